/**
 * The scenario registry: `make bench` runs these, in this order (or the ones named on the command
 * line; a scenario with `optIn` runs only when named). Adding one: a file beside this one that
 * exports a Scenario (lib/harness.ts), and a line here.
 */
import type { Scenario } from '../lib/harness.js';
import { changesScenario } from './changes.js';
import { cniScenario } from './cni.js';
import { controlPlaneScenario } from './control-plane.js';
import { firewallProgScenario } from './firewall-prog.js';
import { firewallTrafficScenario } from './firewall-traffic.js';
import { hostsScenario } from './hosts.js';
import { monitorScenario } from './monitor.js';
import { pathsScenario } from './paths.js';
import { progScenario } from './prog.js';

export const SCENARIOS: Scenario[] = [progScenario, pathsScenario, firewallProgScenario, firewallTrafficScenario, monitorScenario, controlPlaneScenario, changesScenario, cniScenario, hostsScenario];
