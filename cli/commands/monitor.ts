import type { Command } from 'commander';
import { UsageError } from '../output.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function positiveInt(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v) || Number(v) < 1 || Number(v) > 0xffffffff) throw new UsageError(`${flag} ${v}: expected a whole number from 1 to 4294967295`);
  return Number(v);
}

export function register(program: Command): void {
  program
    .command('monitor')
    .description('live dataplane events: drops with their reason, VNF, rule and port; firewall verdicts and new connections on request')
    .argument('[NAME]', 'topology name (default: the only one applied)')
    .option('-t, --type <types>', 'drop | verdict | new | all; repeat or separate by commas (default: drop)', collect)
    .option('-p, --port <ifname>', 'only events on this port: a host interface or the container interface "web/eth0" (repeatable)', collect)
    .option('--from <addr|cidr>', 'only packets from this source address or prefix')
    .option('--to <addr|cidr>', 'only packets to this destination address or prefix')
    .option('-n, --count <N>', 'exit after N events shown')
    .option('--rate <N>', 'events per second per CPU the dataplane may send (beyond: counted as lost)')
    .option('--stats-interval <seconds>', 'print lost-event counts this often (0: only at exit)', '10')
    .option('-o, --output <format>', 'text | json (one object per line)', 'text')
    .addHelpText('after', `
Events are sent only while a monitor runs (it renews a heartbeat every second; a killed monitor's
lapses after 5 s). Lost events (rate limit, full ring buffer) are counted and shown on stderr.

Examples:
  vnf-ctl monitor demo
  vnf-ctl monitor demo --type drop,verdict --port web/eth0
  vnf-ctl monitor demo --from 10.0.1.0/24 -o json | jq .reason
  vnf-ctl monitor demo --type all --count 10`)
    .action(async (name: string | undefined, o: { type?: string[]; port?: string[]; from?: string; to?: string; count?: string; rate?: string; statsInterval: string; output: string }) => {
      const format = o.output.toLowerCase();
      if (format !== 'text' && format !== 'json') throw new UsageError(`-o ${o.output}: expected text or json`);
      const count = positiveInt('--count', o.count);
      const rate = positiveInt('--rate', o.rate);
      if (!/^[0-9]+$/.test(o.statsInterval)) throw new UsageError(`--stats-interval ${o.statsInterval}: expected whole seconds`);
      const statsMs = Number(o.statsInterval) * 1000;
      const { parseFilter } = await import('../../src/monitor/filter.js');
      const filter = parseFilter(o);
      const { listStatus, requireTopology } = await import('../../src/ops/status.js');
      if (name === undefined) {
        const all = listStatus().map((x) => x.name);
        if (all.length !== 1) throw new UsageError(all.length ? `several topologies are applied (${all.join(', ')}): name one` : 'no topology is applied');
        name = all[0]!;
      }
      requireTopology(name);
      const { MonitorSession } = await import('../../src/monitor/session.js');
      const { formatEvent, formatLost } = await import('../../src/monitor/render.js');
      let failure: Error | undefined;
      let shown = 0;
      let stop: () => void = () => {};
      const stopped = new Promise<void>((resolve) => (stop = resolve));
      const session = MonitorSession.start({
        topology: name,
        filter,
        ...(rate !== undefined ? { rate } : {}),
        onEvent(e) {
          if (count !== undefined && shown >= count) return;
          shown++;
          process.stdout.write(`${format === 'json' ? JSON.stringify(e) : formatEvent(e)}\n`);
          if (count !== undefined && shown >= count) stop();
        },
        onError(e) {
          failure = e;
          stop();
        },
      });
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      console.error(`vnf-ctl: monitoring ${name} (${filter.types.join(', ')}); SIGINT or SIGTERM stops`);
      const statsTimer = statsMs > 0 ? setInterval(() => console.error(formatLost(session.lost())), statsMs) : undefined;
      await stopped;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (statsTimer) clearInterval(statsTimer);
      console.error(formatLost(session.stop(), true));
      if (failure) throw failure;
    });
}
