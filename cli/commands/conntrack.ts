import type { Command } from 'commander';
import { isData, OUTPUT_HELP, parseFormat, renderData, table } from '../output.js';

export function register(program: Command): void {
  program
    .command('conntrack')
    .description("list (or flush) the connections the topology's firewalls and NATs track")
    .argument('<NAME>', 'topology name')
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .option('--flush', 'delete every tracked connection (established flows must then start again)')
    .addHelpText('after', '\n-o wide adds the age and the assured/protected flags; -o json gives endpoints as {address, port}.\n\n' +
      'Examples:\n  vnf-ctl conntrack demo\n  vnf-ctl conntrack demo -o json\n  vnf-ctl conntrack demo --flush')
    .action(async (name: string, o: { output: string; flush?: boolean }) => {
      const format = parseFormat(o.output);
      const { conntrackEntries, flushConntrack } = await import('../../src/ops/conntrack.js');
      if (o.flush) {
        console.log(`topology ${name}: ${flushConntrack(name)} connections flushed`);
        return;
      }
      const entries = conntrackEntries(name);
      if (isData(format)) return console.log(renderData(entries, format));
      const wide = format === 'wide';
      const ep = (e: { address: string; port: number | null }): string => (e.port === null ? e.address : `${e.address}:${e.port}`);
      const flags = (e: { assured: boolean; protected: boolean }): string => [e.assured ? 'assured' : '', e.protected ? 'protected' : ''].filter(Boolean).join(',');
      console.log(await table(['interface', 'direction', 'proto', 'source', 'destination', 'state', 'rule', 'idle', 'packets o/r', 'bytes o/r', ...(wide ? ['age', 'flags'] : [])],
        entries.map((e) => [e.ifname ?? (e.router !== null ? `nat ${e.router}` : `zone ${e.zone}`), e.direction ?? 'nat', e.proto, ep(e.src), ep(e.dst), e.state,
          e.router !== null ? null : e.rule ?? 'default', `${e.idleSeconds}s`,
          `${e.packets.orig}/${e.packets.reply}`, `${e.bytes.orig}/${e.bytes.reply}`, ...(wide ? [`${e.ageSeconds}s`, flags(e)] : [])])));
      console.log(`${entries.length} connections`);
    });
}
