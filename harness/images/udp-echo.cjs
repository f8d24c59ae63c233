// UDP echo of the real-server app, run by the node image's Node binary:
//   node udp-echo.cjs NAME RIP PORT[,PORT...] ADDRESS...
// One socket per local address, so a reply leaves from the address the request was sent to
// (the VIP in DR and TUN modes), as a client expects.
'use strict';
const dgram = require('node:dgram');
const [name, rip, ports, ...addresses] = process.argv.slice(2);
// $LVSH_READY: a file written once every socket is bound, which the node script waits for
let unbound = ports.split(',').length * addresses.length;
const bound = () => {
  if (--unbound === 0 && process.env.LVSH_READY) require('node:fs').writeFileSync(process.env.LVSH_READY, `${process.pid}\n`);
};
for (const port of ports.split(','))
for (const address of addresses) {
  const sock = dgram.createSocket({ type: address.includes(':') ? 'udp6' : 'udp4', reuseAddr: true });
  sock.on('message', (msg, peer) => {
    const line = `server=${name} rip=${rip} client=${peer.address}:${peer.port} local=${address}:${port} port=${port} echo=${msg.toString().slice(0, 64).replace(/\s+/g, '_')}\n`;
    sock.send(line, peer.port, peer.address);
  });
  sock.on('error', (e) => {
    process.stderr.write(`udp-echo ${address}:${port}: ${e.message}\n`);
    process.exit(1);
  });
  sock.bind(Number(port), address, bound);
}
