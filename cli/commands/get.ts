import type { Command } from 'commander';
import { parseFormat, renderData, table, UsageError } from '../output.js';

/** Rows of long sections beyond this are summarised in the table view (-o json lists all). */
const SHOWN = 50;

export function register(program: Command): void {
  program
    .command('get')
    .description('show applied topologies, or one topology: its interfaces and chains, and every VNF\'s state (FDB, routes, neighbours, firewall rules)')
    .argument('[NAME]', 'topology name')
    .option('-o, --output <format>', 'table | json | yaml', 'table')
    .option('--only <sections>', 'comma-separated sections, e.g. interfaces,fdb,routes,neighbours,firewallRules')
    .addHelpText('after', '\nExamples:\n  vnf-ctl get\n  vnf-ctl get demo\n  vnf-ctl get demo --only routes,neighbours\n  vnf-ctl get demo -o json')
    .action(async (name: string | undefined, o: { output: string; only?: string }) => {
      const format = parseFormat(o.output);
      const { listStatus, topologyStatus } = await import('../../src/ops/status.js');
      if (!name) {
        const all = listStatus();
        if (format !== 'table') return console.log(renderData(all, format));
        if (all.length === 0) return console.log('no topologies applied');
        return console.log(await table(['topology', 'interfaces', 'lab', 'file', 'applied'], all.map((s) => [s.name, s.interfaces, s.lab ? 'yes' : 'no', s.file ?? '-', s.appliedAt ?? '-'])));
      }
      const s = topologyStatus(name);
      const only = o.only ? new Set(o.only.split(',').map((x) => x.trim())) : undefined;
      const known = ['interfaces', ...s.sections.map((x) => x.key)];
      for (const k of only ?? []) if (!known.includes(k)) throw new UsageError(`unknown section "${k}" (sections: ${known.join(', ')})`);
      const want = (key: string): boolean => !only || only.has(key);
      const sections = s.sections.filter((x) => want(x.key));
      if (format !== 'table') {
        return console.log(renderData({ name: s.name, file: s.file, ...(want('interfaces') ? { interfaces: s.interfaces } : {}), ...Object.fromEntries(sections.map((x) => [x.key, x.rows])) }, format));
      }
      console.log(`topology ${s.name}${s.file ? ` (${s.file})` : ''}`);
      if (want('interfaces')) {
        console.log('\nINTERFACES');
        console.log(await table(['interface', 'owner', 'network', 'ip', 'mac', 'chain in', 'chain out', 'links'],
          s.interfaces.map((i) => [i.ifname, i.owner, i.network, i.ip, i.mac, i.chainIn.join(' > '), i.chainOut.join(' > '), i.links.join(',') || 'NONE'])));
      }
      for (const sec of sections) {
        if (sec.rows.length === 0 && !only) continue; // e.g. no firewall in this topology
        console.log(`\n${sec.title}`);
        const rows = sec.rows.slice(0, SHOWN).map((r) => sec.columns.map((c) => r[c]));
        if (sec.rows.length > SHOWN) rows.push([`… ${sec.rows.length - SHOWN} more (-o json lists all)`, ...sec.columns.slice(1).map(() => '')]);
        console.log(await table(sec.columns, rows));
      }
    });
}
