import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('metrics')
    .description('counters and occupancy for Prometheus (per VNF and reason, port, firewall rule, route; conntrack and NAT): printed once, or served on GET /metrics')
    .argument('[NAME...]', 'topology names (default: all, also those applied later)')
    .option('--listen [host:port]', 'serve GET /metrics there until SIGINT or SIGTERM, reading the kernel on every scrape (default 127.0.0.1:9469)')
    .addHelpText('after', '\nExamples:\n  vnf-ctl metrics demo\n  vnf-ctl metrics --listen\n  vnf-ctl metrics demo --listen 0.0.0.0:9469')
    .action(async (names: string[], o: { listen?: string | true }) => {
      const { DataplaneMetrics, DEFAULT_LISTEN, metricsReader, parseListen, serveMetrics } = await import('../../src/ops/metrics.js');
      const at = o.listen === undefined ? undefined : parseListen(o.listen === true ? DEFAULT_LISTEN : o.listen);
      const { requireTopology } = await import('../../src/ops/status.js');
      for (const n of names) requireTopology(n);
      const metrics = new DataplaneMetrics(metricsReader(names));
      // One read before serving: no permission, no kernel support or a broken map fails here, not on the first scrape.
      const text = await metrics.expose();
      if (!at) return void process.stdout.write(text);
      const served = await serveMetrics(metrics, at);
      console.error(`vnf-ctl: serving ${served.url} (SIGINT or SIGTERM stops)`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await served.close();
    });
}
