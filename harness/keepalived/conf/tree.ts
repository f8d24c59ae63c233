/**
 * Items (keyword lines, `{`, `}`) to the tree of ConfNodes, with an explicit stack, and the
 * diagnosis of unbalanced braces. Braces pair up by counting, which is what keepalived does
 * for the blocks it knows; where it differs (a section keyword read inside another block, an
 * extra `}`), the problem message says what keepalived does instead.
 */
import type { ConfNode, ConfProblem, Loc } from './ast.js';
import type { Item } from './reader.js';

/** Sections keepalived reads only at the top level; one inside a block means a `}` is missing before it. */
const SECTIONS = new Set([
  'global_defs',
  'vrrp_instance',
  'vrrp_script',
  'vrrp_sync_group',
  'virtual_server',
  'virtual_server_group',
  'static_ipaddress',
  'static_routes',
  'static_rules',
  'garp_group',
  'linkbeat_interfaces',
  'bfd_instance',
]);

/** deeper than any real configuration; keeps consumers that recurse over the tree safe */
export const MAX_DEPTH = 256;

interface Block {
  node: ConfNode;
  /** the keyword line, for its indentation */
  head: Item;
  open: Item;
  close?: Item;
}

export class TreeBuilder {
  readonly nodes: ConfNode[] = [];
  readonly problems: ConfProblem[] = [];
  private readonly stack: Block[] = [];
  private readonly blocks = new Map<ConfNode, Block>();
  private last: ConfNode | undefined;
  private lastItem: Item | undefined;
  private lastClosedTop: Block | undefined;
  tooDeep = false;

  private problem(at: Loc, code: ConfProblem['code'], message: string, severity: 'error' | 'warning' = 'error'): void {
    this.problems.push({ file: at.file, line: at.line, code, severity, message });
  }

  add(item: Item): void {
    if (this.tooDeep) return;
    const siblings = this.stack.length ? this.stack[this.stack.length - 1]!.node.children! : this.nodes;
    if (item.kind === 'words') {
      const node: ConfNode = { file: item.file, line: item.line, keyword: item.words[0]!, args: item.words.slice(1), includedFrom: item.includedFrom };
      siblings.push(node);
      this.last = node;
      this.lastItem = item;
      return;
    }
    if (item.kind === 'open') {
      const owner = this.last;
      this.last = undefined;
      if (!owner) {
        this.problem(item, 'unexpected-open', `'{' that follows no keyword: keepalived logs "Unexpected '{' - ignoring", so the next '}' ends the enclosing block instead`);
        return;
      }
      if (this.stack.length >= MAX_DEPTH) {
        this.tooDeep = true;
        this.problem(item, 'too-large', `blocks nested more than ${MAX_DEPTH} deep; the rest of the input is not read`);
        return;
      }
      owner.children = [];
      const block = { node: owner, head: this.lastItem!, open: item };
      this.blocks.set(owner, block);
      this.stack.push(block);
      return;
    }
    this.last = undefined;
    const block = this.stack.pop();
    if (block) {
      block.close = item;
      if (item.file === block.node.file) block.node.endLine = item.line;
      if (!this.stack.length) this.lastClosedTop = block;
      return;
    }
    const prev = this.lastClosedTop;
    const hint =
      prev && (prev.close!.line !== item.line || prev.close!.file !== item.file)
        ? `; the block before it, ${prev.node.keyword} (line ${prev.node.line}), already ended at the '}' on line ${prev.close!.line}${prev.close!.file !== item.file ? ` of ${prev.close!.file}` : ''}, so the lines between were read outside it`
        : '';
    this.problem(item, 'unbalanced-close', `'}' with no open block: keepalived logs "Extra '}' found" and ignores it${hint}`);
  }

  /** At the end of the input: blocks never closed, and sections nested where a `}` is missing. */
  finish(truncated: boolean): void {
    const reported = new Set<ConfNode>();
    for (const top of this.nodes) {
      const nested = top.children ? findSection(top) : undefined;
      if (!nested) continue;
      const b = this.blocks.get(top)!;
      reported.add(top);
      const end = b.close ? `the '}' on line ${b.close.line}${b.close.file !== b.open.file ? ` of ${b.close.file}` : ''}` : 'the end of the input';
      this.problem(
        b.open,
        'unbalanced-open',
        `${top.keyword} (line ${top.line}) is not closed before ${nested.keyword} on line ${nested.line}${nested.file !== top.file ? ` of ${nested.file}` : ''}: counting braces, everything from there to ${end} is read inside ${top.keyword}. ` +
          `keepalived, which does not nest sections, logs "Unknown keyword '${nested.keyword}'", ignores its '{' and ends ${top.keyword} at the next '}', so what lies between is lost. Add the missing '}' before line ${nested.line}`,
      );
    }
    if (truncated || this.tooDeep) return;
    for (const b of this.stack) {
      if (reported.has(b.node)) continue;
      const suspect = misindented(b.node, this.blocks);
      this.problem(
        b.open,
        'unbalanced-open',
        `${b.node.keyword} (line ${b.node.line}) is never closed: everything after it to the end of the input is read as part of it. keepalived does the same and then logs "There are ${this.stack.length} missing '}'s or extra '{'s", without a line` +
          (suspect ? `. Indentation suggests the missing '}' is that of ${suspect.node.keyword} (line ${suspect.node.line}), whose '}' on line ${suspect.close!.line} is indented like a different line` : ''),
      );
      break; // the outermost open block says it; the inner ones only repeat it
    }
  }
}

/** the first section keyword below `top`, in line order, without recursion */
function findSection(top: ConfNode): ConfNode | undefined {
  const work: ConfNode[] = [...(top.children ?? [])].reverse();
  while (work.length) {
    const n = work.pop()!;
    if (SECTIONS.has(n.keyword)) return n;
    if (n.children) for (let i = n.children.length - 1; i >= 0; i--) work.push(n.children[i]!);
  }
  return undefined;
}

/** the first closed block below `top` whose `}` starts a line indented unlike its keyword's line */
function misindented(top: ConfNode, blocks: Map<ConfNode, Block>): Block | undefined {
  const work: ConfNode[] = [...(top.children ?? [])].reverse();
  while (work.length) {
    const n = work.pop()!;
    const b = blocks.get(n);
    const kw = b?.head;
    if (b?.close?.lead && kw?.lead && b.close.file === kw.file && b.close.indent !== kw.indent) return b;
    if (n.children) for (let i = n.children.length - 1; i >= 0; i--) work.push(n.children[i]!);
  }
  return undefined;
}
