import type { Command } from 'commander';
import { firewallStatus, listStatus, topologyStatus } from '../../src/index.js';
import { parseFormat, renderData, table } from '../output.js';

export function register(program: Command): void {
  program
    .command('get')
    .description('show applied topologies, or one topology: interfaces with their chains, FDB, routes, neighbours')
    .argument('[NAME]', 'topology name')
    .option('-o, --output <format>', 'table | json | yaml', 'table')
    .addHelpText('after', '\nExamples:\n  vnf-ctl get\n  vnf-ctl get demo\n  vnf-ctl get demo -o json')
    .action((name: string | undefined, o: { output: string }) => {
      const format = parseFormat(o.output);
      if (!name) {
        const all = listStatus();
        if (format !== 'table') return console.log(renderData(all, format));
        if (all.length === 0) return console.log('no topologies applied');
        return console.log(table(['topology', 'interfaces', 'lab', 'file', 'applied'], all.map((s) => [s.name, s.interfaces, s.lab ? 'yes' : 'no', s.file ?? '-', s.appliedAt ?? '-'])));
      }
      const s = { ...topologyStatus(name), firewalls: firewallStatus(name) };
      if (format !== 'table') return console.log(renderData(s, format));
      console.log(`topology ${s.name}${s.file ? ` (${s.file})` : ''}\n\nINTERFACES`);
      console.log(table(['interface', 'owner', 'network', 'ip', 'mac', 'chain in', 'chain out', 'links'],
        s.interfaces.map((i) => [i.ifname, i.owner, i.network, i.ip, i.mac, i.chainIn.join(' > '), i.chainOut.join(' > '), i.links.join(',') || 'NONE'])));
      console.log('\nFDB');
      console.log(table(['network', 'mac', 'interface', 'kind', 'age'], s.fdb.map((f) => [f.network, f.mac, f.ifname, f.kind, f.ageSeconds === undefined ? '-' : `${f.ageSeconds}s`])));
      console.log('\nROUTES');
      console.log(table(['router', 'to', 'via', 'network'], s.routes.map((r) => [r.router, r.to, r.via ?? 'connected', r.network])));
      for (const f of s.firewalls) {
        for (const d of f.directions) {
          console.log(`\nFIREWALL ${f.name} ${d.direction} (on ${f.attach.join(', ') || 'no interface'})`);
          const shown = d.rules.slice(0, 50);
          console.log(table(['#', 'rule', 'packets', 'bytes'], [
            ...shown.map((r) => [r.index, r.rule, r.hits.packets, r.hits.bytes]),
            ...(d.rules.length > shown.length ? [['…', `${d.rules.length - shown.length} more rules (-o json lists all)`, '', '']] : []),
            ['-', `default ${d.default}`, d.defaultHits.packets, d.defaultHits.bytes],
          ]));
        }
      }
      console.log('\nNEIGHBOURS');
      console.log(table(['network', 'ip', 'mac', 'kind', 'age'], s.neighbours.map((n) => [n.network, n.ip, n.mac, n.kind, n.ageSeconds === undefined ? '-' : `${n.ageSeconds}s`])));
    });
}
