/** Re-exported for tests: the generator lives with the benchmarks. */
export * from '../../bench/fw-gen.js';
