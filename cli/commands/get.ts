import type { Command } from 'commander';
import { isData, OUTPUT_HELP, parseFormat, renderData, table, UsageError } from '../output.js';

/** Rows of long sections beyond this are summarised in the table view (-o json lists all). */
const SHOWN = 50;

export function register(program: Command): void {
  program
    .command('get')
    .description('show applied topologies, or one topology: its interfaces and chains, and every VNF\'s state (FDB, routes, neighbours, firewall rules)')
    .argument('[NAME]', 'topology name')
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .option('--store <URL>', 'show the store (etcd) instead: its topology, the hosts and their liveness, and where every endpoint lives')
    .option('--store-prefix <PREFIX>', 'the store\'s key prefix (default /vnf/)')
    .option('--only <sections>', 'comma-separated sections, e.g. interfaces,fdb,routes,neighbours,firewallRules')
    .addHelpText('after', '\n-o wide adds the ifindex of interfaces, and the file of each topology.\n\n' +
      'Examples:\n  vnf-ctl get\n  vnf-ctl get --store http://127.0.0.1:2379\n  vnf-ctl get demo\n  vnf-ctl get demo --only routes,neighbours\n  vnf-ctl get demo -o json')
    .action(async (name: string | undefined, o: { output: string; only?: string; store?: string; storePrefix?: string }) => {
      const format = parseFormat(o.output);
      const wide = format === 'wide';
      if (o.store !== undefined) {
        if (o.only !== undefined) throw new UsageError('--only is not for --store');
        const { statusOfStore } = await import('../../src/ops/store.js');
        const { lagOf } = await import('../../src/store/status.js');
        const { problems, ...s } = await statusOfStore({ url: o.store, ...(o.storePrefix !== undefined ? { prefix: o.storePrefix } : {}) });
        for (const p of problems) console.error(`warning: ${p}`);
        if (name !== undefined && s.topology?.name !== name) throw new UsageError(`the store holds ${s.topology ? `topology ${s.topology.name}` : 'no topology'}, not ${name}`);
        if (isData(format)) return console.log(renderData(s, format));
        console.log(s.topology ? `topology ${s.topology.name} (revision ${s.topology.revision})` : 'no topology stored');
        console.log('\nHOSTS');
        console.log(await table(['host', 'underlay', 'alive', 'applied', 'lag', 'error', ...(wide ? ['applied at'] : [])],
          s.hosts.map((h) => [h.name, h.underlay, h.alive ? 'yes' : 'no', h.appliedRevision, lagOf(h, s.topology?.revision), h.error, ...(wide ? [h.appliedAt] : [])])));
        console.log('\nENDPOINTS');
        return console.log(await table(['container', 'iface', 'network', 'ip', 'mac', 'host', 'host alive'],
          s.endpoints.map((e) => [e.container, e.iface, e.network, e.ip, e.mac, e.host, e.hostAlive ? 'yes' : 'no'])));
      }
      if (o.storePrefix !== undefined) throw new UsageError('--store-prefix needs --store URL');
      const { listStatus, topologyStatus } = await import('../../src/ops/status.js');
      if (!name) {
        const all = listStatus().map((s) => ({ name: s.name, interfaceCount: s.interfaces, lab: s.lab, file: s.file ?? null, appliedAt: s.appliedAt ?? null }));
        if (isData(format)) return console.log(renderData(all, format));
        if (all.length === 0) return console.log('no topologies applied');
        return console.log(await table(['topology', 'interfaces', 'lab', 'applied', ...(wide ? ['file'] : [])],
          all.map((s) => [s.name, s.interfaceCount, s.lab ? 'yes' : 'no', s.appliedAt, ...(wide ? [s.file] : [])])));
      }
      const s = topologyStatus(name);
      const only = o.only ? new Set(o.only.split(',').map((x) => x.trim())) : undefined;
      const known = ['interfaces', ...s.sections.map((x) => x.key)];
      for (const k of only ?? []) if (!known.includes(k)) throw new UsageError(`unknown section "${k}" (sections: ${known.join(', ')})`);
      const want = (key: string): boolean => !only || only.has(key);
      const sections = s.sections.filter((x) => want(x.key));
      if (isData(format)) {
        return console.log(renderData({ name: s.name, file: s.file ?? null, ...(want('interfaces') ? { interfaces: s.interfaces } : {}), ...Object.fromEntries(sections.map((x) => [x.key, x.rows])) }, format));
      }
      console.log(`topology ${s.name}${s.file ? ` (${s.file})` : ''}`);
      if (want('interfaces')) {
        console.log('\nINTERFACES');
        console.log(await table(['interface', 'owner', 'network', 'ip', 'mac', 'chain in', 'chain out', 'links', ...(wide ? ['ifindex'] : [])],
          s.interfaces.map((i) => [i.ifname, i.owner, i.network, i.ip, i.mac, i.chainIn.join(' > '), i.chainOut.join(' > '), i.links.join(',') || 'NONE',
            ...(wide ? [i.ifindex] : [])])));
      }
      const cell = (v: unknown): string | number | bigint | null => (Array.isArray(v) ? v.join(', ') || null : (v as string | number | bigint | null));
      for (const sec of sections) {
        if (sec.rows.length === 0 && !only) continue; // e.g. no firewall in this topology
        console.log(`\n${sec.title}`);
        const rows = sec.rows.slice(0, SHOWN).map((r) => sec.columns.map((c) => cell(r[c])));
        if (sec.rows.length > SHOWN) rows.push([`… ${sec.rows.length - SHOWN} more (-o json lists all)`, ...sec.columns.slice(1).map(() => '')]);
        console.log(await table(sec.headers ?? sec.columns, rows));
      }
    });
}
