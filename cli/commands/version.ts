import type { Command } from 'commander';
import { isData, OUTPUT_HELP, parseFormat, renderData } from '../output.js';

/** The commit the bundle was built from: esbuild defines it (Makefile); a plain tsc build has none. */
declare const VNF_BUILD_COMMIT: string | undefined;

export function register(program: Command): void {
  program
    .command('version')
    .description('print the versions vnf-ctl is made of: vnf, libbpf, the dataplane ABI, Node.js, the build, the kernel')
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .addHelpText('after', '\n`vnf-ctl --version` prints the vnf version alone (and loads nothing).\n\nExamples:\n  vnf-ctl version\n  vnf-ctl version -o json')
    .action(async (o: { output: string }) => {
      const format = parseFormat(o.output);
      const { readFileSync } = await import('node:fs');
      const { join } = await import('node:path');
      const { release } = await import('node:os');
      const { projectRoot, native } = await import('../../src/native/binding.js');
      const { VNF_ABI_VERSION } = await import('../../src/abi/vnf_common.js');
      let libbpf: string | null = null;
      try {
        libbpf = native.libbpfVersion;
      } catch {
        libbpf = null; // the addon is not built: say so as null, the rest still prints
      }
      const info = {
        version: (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version,
        libbpf,
        abi: VNF_ABI_VERSION,
        node: process.versions.node,
        build: typeof VNF_BUILD_COMMIT === 'string' && VNF_BUILD_COMMIT !== '' ? VNF_BUILD_COMMIT : 'unknown',
        kernel: release(),
      };
      if (isData(format)) return console.log(renderData(info, format));
      const { formatTable } = await import('../output.js');
      console.log(formatTable(['component', 'version'], Object.entries(info).map(([k, v]) => [k, v ?? 'not built'])));
    });
}
