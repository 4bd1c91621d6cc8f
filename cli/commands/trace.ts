import type { Command } from 'commander';
import { isData, parseFormat, renderData, table, UsageError } from '../output.js';

const EXAMPLES = `
Runs one packet through the real programs of the port's chain (BPF_PROG_TEST_RUN) on the live
maps, without side effects: no learning, no connection or NAT state, no counters, nothing sent.

Exit status: 0 the packet would be delivered (or answered by the router it is addressed to),
1 it would not (dropped, rejected, passed to the host), 2 invalid input (unknown topology, port
or address).

Examples:
  vnf-ctl trace demo --from web/eth0 --to 10.2.0.10 --proto tcp --port 5432
  vnf-ctl trace demo --from web/eth0 --to db/eth0 --proto icmp
  vnf-ctl trace demo --from vnf1a2b3c4d --to 10.2.0.10 --proto udp --port 53 -o json
  vnf-ctl trace demo --from web/eth0 --to 10.2.0.10 --port 5432 >/dev/null && echo allowed`;

function portNumber(flag: string): (v: string) => number {
  return (v) => {
    if (!/^\d{1,5}$/.test(v)) throw new UsageError(`${flag} ${v}: expected a port number`);
    return Number(v);
  };
}

export function register(program: Command): void {
  program
    .command('trace')
    .description('would this packet be allowed? trace one packet through the VNFs of an applied topology, stage by stage')
    .argument('<NAME>', 'topology name')
    .requiredOption('--from <PORT>', 'the sending port: CONTAINER/IF of the file, or a host interface attached to the topology')
    .requiredOption('--to <DEST>', 'an IPv4 address, or CONTAINER/IF')
    .option('--proto <PROTO>', 'tcp | udp | icmp', 'tcp')
    .option('--port <N>', 'destination port (tcp, udp)', portNumber('--port'))
    .option('--sport <N>', 'source port (tcp, udp) or echo identifier (icmp)', portNumber('--sport'))
    .option('-o, --output <format>', 'table | json | yaml', 'table')
    .addHelpText('after', EXAMPLES)
    .action(async (name: string, o: { from: string; to: string; proto: string; port?: number; sport?: number; output: string }) => {
      const format = parseFormat(o.output);
      const proto = o.proto.toLowerCase();
      if (proto !== 'tcp' && proto !== 'udp' && proto !== 'icmp') throw new UsageError(`--proto ${o.proto}: expected tcp, udp or icmp`);
      const { trace } = await import('../../src/trace/trace.js');
      const r = await trace(name, { from: o.from, to: o.to, proto, ...(o.port !== undefined ? { port: o.port } : {}), ...(o.sport !== undefined ? { sport: o.sport } : {}) });
      process.exitCode = r.allowed ? 0 : 1;
      if (isData(format)) return console.log(renderData(r, format));
      const { renderTrace } = await import('../../src/trace/render.js');
      console.log(await renderTrace(r, table));
    });
}
