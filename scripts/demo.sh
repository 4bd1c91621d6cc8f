#!/usr/bin/env bash
# make demo: brings up examples/demo.yaml as a lab (namespaces + veth pairs),
# sends traffic across the eBPF bridges and router, prints state and counters,
# and cleans up — also when something fails.
set -euo pipefail
cd "$(dirname "$0")/.."
VNF=(node dist/vnf-ctl.js)
FILE=examples/demo.yaml
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

FW=examples/firewall.yaml
NAT=examples/nat.yaml
cleanup() {
  step "lab down"
  "${VNF[@]}" lab down -f "$FILE" || true
  "${VNF[@]}" lab down -f "$FW" >/dev/null 2>&1 || true
  "${VNF[@]}" lab down -f "$NAT" >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "validate $FILE"
"${VNF[@]}" validate -f "$FILE"
step "lab up: namespaces, veth pairs, eBPF programs and maps"
"${VNF[@]}" lab up -f "$FILE"
step "web -> db across networks front and back (bridge > router > bridge)"
"${VNF[@]}" lab exec -t demo web -- ping -c 3 -i 0.2 10.2.0.10
step "web -> ops' mgmt address through the static route via 10.2.0.254"
"${VNF[@]}" lab exec -t demo web -- ping -c 2 -i 0.2 10.3.0.10
step "TTL 1 from web: the eBPF router answers with ICMP time exceeded"
"${VNF[@]}" lab exec -t demo web -- ping -c 1 -W 1 -t 1 10.2.0.10 || true
step "TCP from db to web"
"${VNF[@]}" lab exec -t demo web -- sh -c 'timeout 3 nc -l -p 8080 >/dev/null &'
sleep 0.3
echo hello | "${VNF[@]}" lab exec -t demo db -- timeout 3 nc -q 1 -w 2 10.1.0.10 8080 && echo "TCP ok"
step "db takes an address that is not its own: the port drops what it sends (per-port identity)"
"${VNF[@]}" lab exec -t demo db -- ip addr add 10.2.0.99/24 dev eth0
"${VNF[@]}" lab exec -t demo db -- ping -c 1 -W 1 -I 10.2.0.99 10.1.0.10 || true
"${VNF[@]}" lab exec -t demo db -- ip addr del 10.2.0.99/24 dev eth0
"${VNF[@]}" stats demo | grep -E 'vnf +│|spoof' || true
step "no Linux bridge, no kernel forwarding in the path"
echo "bridges: $(ip -o link show type bridge | wc -l), host ip_forward: $(cat /proc/sys/net/ipv4/ip_forward) (the eBPF router does not use it)"
step "plan and a second apply: nothing to change"
"${VNF[@]}" plan -f "$FILE"
"${VNF[@]}" apply -f "$FILE"
step "get demo"
"${VNF[@]}" get demo
step "stats demo"
"${VNF[@]}" stats demo

step "firewall: lab up $FW (stateful policy on web/eth0)"
"${VNF[@]}" lab up -f "$FW"
"${VNF[@]}" lab exec -t demo-fw web -- sh -c 'timeout 4 nc -l 80 >/dev/null &'
sleep 0.3
step "db -> web:80 is allowed by rule 0"
"${VNF[@]}" lab exec -t demo-fw db -- nc -z -v -w 2 10.1.0.10 80 || true
step "db -> web:23 is rejected: connection refused at once (TCP RST from the firewall)"
"${VNF[@]}" lab exec -t demo-fw db -- nc -z -v -w 2 10.1.0.10 23 || true
step "db -> web:22 falls to the default drop: no answer"
"${VNF[@]}" lab exec -t demo-fw db -- nc -z -v -w 1 10.1.0.10 22 || true
step "ping db -> web (echo-request allowed; replies pass statefully)"
"${VNF[@]}" lab exec -t demo-fw db -- ping -c 2 -i 0.2 10.1.0.10
step "rules with hit counters, and the tracked connections"
"${VNF[@]}" get demo-fw --only firewallRules
"${VNF[@]}" conntrack demo-fw

step "NAT: lab up $NAT (r1's wan network has an uplink; the lab puts an 'internet' namespace behind it)"
"${VNF[@]}" lab up -f "$NAT"
# The internet: the gateway 192.0.2.1 and a web server at 198.51.100.1 that knows no route to
# the private networks, so only translated traffic can get an answer.
"${VNF[@]}" lab exec -t demo-nat internet -- ip addr add 198.51.100.1/32 dev lo
"${VNF[@]}" lab exec -t demo-nat internet -- sh -c 'timeout 8 sh -c "while true; do echo hi-from-the-internet | nc -l -p 80 -q 1; done" >/dev/null 2>&1 &'
"${VNF[@]}" lab exec -t demo-nat web -- ping -c 1 -W 1 192.0.2.1 >/dev/null || true # the first packet resolves the gateway
step "web -> the internet: leaves as 192.0.2.2 (masquerade), the answer comes back"
"${VNF[@]}" lab exec -t demo-nat web -- nc -w 2 198.51.100.1 80 </dev/null
step "db -> the internet: leaves as its floating address 192.0.2.10"
"${VNF[@]}" lab exec -t demo-nat db -- ping -c 2 -i 0.2 198.51.100.1
step "the internet -> 192.0.2.2:8080: the published service is web:80"
"${VNF[@]}" lab exec -t demo-nat web -- sh -c 'timeout 4 sh -c "echo hello-from-web | nc -l -p 80 -q 1" >/dev/null 2>&1 &'
sleep 0.3
"${VNF[@]}" lab exec -t demo-nat internet -- nc -w 2 192.0.2.2 8080 </dev/null
step "the mappings, and NAT's counters"
"${VNF[@]}" nat demo-nat
"${VNF[@]}" stats demo-nat | grep -E 'nat' || true

step "many hosts: examples/hosts.yaml on two simulated hosts (network + mount namespaces each), a real etcd, an agent per host"
node dist/bench/sim-demo.js examples/hosts.yaml
