import type { Command } from 'commander';
import { isData, lockWait, OUTPUT_HELP, parseFormat, renderData } from '../output.js';

export function register(program: Command): void {
  program
    .command('attach')
    .description('put an existing interface (the host side of a container veth) onto a network of an applied topology')
    .argument('<IFACE>', 'host-side interface name')
    .requiredOption('--topology <NAME>', 'applied topology')
    .requiredOption('--network <NET>', 'network of that topology')
    .requiredOption('--ip <CIDR>', "the container's address on the network")
    .option('--netns <PATH>', "the container's network namespace (to learn its MAC), e.g. /run/netns/c1")
    .option('--firewall <NAME>', "the firewall of the file that protects it (default: the network's, firewalls.NAME.networks)")
    .option('--no-firewall', 'attach without a firewall even where the network\'s containers have one')
    .option('--force', 'attach an interface that is not a veth, or the one of the default route')
    .option('-o, --output <format>', `${OUTPUT_HELP} (what was attached)`, 'table')
    .addHelpText('after', '\nRefused: the loopback interface, a port of another topology, names bpffs cannot pin, and\n' +
      'unless --force, the default route\'s interface and anything but a veth.\n\nExamples:\n  vnf-ctl attach veth1234 --topology demo --network front --ip 10.1.0.20/24 --netns /run/netns/c1 --firewall web-in')
    .action(async (iface: string, o: { topology: string; network: string; ip: string; netns?: string; force?: boolean; firewall?: string | false; output: string }) => {
      const format = parseFormat(o.output);
      const { attachInterface } = await import('../../src/ops/attach.js');
      const { formatPlan } = await import('../../src/plan/format.js');
      const r = await attachInterface(iface, { topology: o.topology, network: o.network, ip: o.ip, ...(o.netns ? { netns: o.netns } : {}), force: o.force ?? false, lock: lockWait,
        ...(o.firewall !== undefined ? { options: { firewall: o.firewall === false ? null : o.firewall } } : {}),
      });
      const fw = r.attachment.options?.['firewall'];
      if (isData(format)) {
        return console.log(renderData({ ifname: iface, topology: o.topology, network: o.network, ip: o.ip, mac: r.attachment.mac ?? null,
          firewall: typeof fw === 'string' ? fw : null, operationCount: r.plan.ops.length }, format));
      }
      console.log(`${iface} attached to ${o.topology}/${o.network}${r.attachment.mac ? ` (mac ${r.attachment.mac})` : ' (mac will be learned)'}, ${fw ? `firewall ${fw}` : 'no firewall'}`);
      if (r.plan.ops.length) console.log(formatPlan(r.plan, r.names).split('\n')[0]);
    });
  program
    .command('detach')
    .description('take an attached interface off its topology')
    .argument('<IFACE>', 'host-side interface name')
    .option('--topology <NAME>', 'topology (default: the one it is attached to)')
    .addHelpText('after', '\nExamples:\n  vnf-ctl detach veth1234')
    .action(async (iface: string, o: { topology?: string }) => {
      const { detachInterface } = await import('../../src/ops/attach.js');
      const r = await detachInterface(iface, o.topology, lockWait);
      console.log(`${iface} detached from ${r.topology}`);
    });
}
