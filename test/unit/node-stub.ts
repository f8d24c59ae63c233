import { NO_CAPABILITIES, type ExecOptions, type ExecResult, type Node, type NodeProcess } from '../../harness/runtime/node.js';

/**
 * A test's stand-in host: no lifecycle, no spawn, files that read empty. A subclass says how it
 * answers commands (exec) and how a command would be typed by hand (handCommand).
 */
export abstract class NodeStub implements Node {
  readonly capabilities = { ...NO_CAPABILITIES };
  constructor(readonly name: string) {}
  abstract exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  abstract handCommand(argv: readonly string[]): string;
  spawn(): Promise<NodeProcess> {
    throw new Error('not used');
  }
  async writeFile(): Promise<void> {}
  async readFile(): Promise<string> {
    return '';
  }
  async close(): Promise<void> {}
}
