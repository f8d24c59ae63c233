/**
 * For undo.test.ts: a harness run that makes two changes on a host over SSH, journaled, then
 * hangs until it is SIGKILLed (a crash: no cleanup of any kind runs). Arguments: one JSON object
 * with the SshNode options, the journal file and the directory to change.
 */
import path from 'node:path';
import { SshNode } from '../../harness/runtime/ssh-node.js';
import { UndoJournal } from '../../harness/runtime/undo.js';

const { node: nodeOpts, journal: file, dir } = JSON.parse(process.argv[2]!) as { node: ConstructorParameters<typeof SshNode>[0]; journal: string; dir: string };
const node = new SshNode(nodeOpts);
const journal = await UndoJournal.open(file);
const a = path.join(dir, 'vip-a');
const b = path.join(dir, 'vip b');
await journal.apply(node, `marker ${a}`, ['touch', a], ['rm', a]);
await journal.apply(node, `marker ${b}`, ['touch', b], ['rm', b]);
// a change whose undo will fail: the marker is gone by the time the undo runs
await journal.record('a rule already removed', ['rm', path.join(dir, 'never-there')], node);
process.stdout.write('ready\n');
setInterval(() => {}, 60_000);
