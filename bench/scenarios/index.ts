/** The scenario registry: `make bench` runs these, in this order (or the ones named on the command line). */
import type { Scenario } from '../lib/harness.js';
import { pathsScenario } from './paths.js';

export const SCENARIOS: Scenario[] = [pathsScenario];
