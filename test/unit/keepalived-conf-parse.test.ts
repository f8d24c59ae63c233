import { expect } from 'chai';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import type { ConfNode, ConfProblem, ParsedConf, ParseOptions } from '../../harness/keepalived/conf/ast.js';
import { expandBraces, fsGlob } from '../../harness/keepalived/conf/glob.js';
import { parseConfFile, parseConfText } from '../../harness/keepalived/conf/parse.js';
import { LIMITS } from '../../harness/keepalived/conf/reader.js';
import { MAX_DEPTH } from '../../harness/keepalived/conf/tree.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/keepalived-conf');
const TOP = '/etc/keepalived/keepalived.conf';

/** An in-memory file system for includes: readFile and a glob over its keys. */
function mem(files: Record<string, string>): Pick<ParseOptions, 'readFile' | 'glob'> {
  return {
    readFile: (p) => {
      const t = files[p];
      if (t === undefined) throw new Error(`ENOENT: ${p}`);
      return t;
    },
    glob: (pattern) => {
      const out: string[] = [];
      for (const alt of expandBraces(path.normalize(pattern))) {
        const re = new RegExp('^' + alt.replace(/[.+^$()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$');
        out.push(...Object.keys(files).filter((f) => re.test(f)).sort());
      }
      return out;
    },
  };
}

const parse = (text: string, opts: ParseOptions = {}) => parseConfText(text, TOP, opts);
/** keyword and args of each node, children indented: compact to compare */
function outline(nodes: ConfNode[]): string[] {
  const out: string[] = [];
  const work: Array<[ConfNode, number]> = [...nodes].reverse().map((n) => [n, 0]);
  while (work.length) {
    const [n, d] = work.pop()!;
    out.push('  '.repeat(d) + [n.keyword, ...n.args].join(' ') + (n.children ? ' {' : ''));
    if (n.children) for (let i = n.children.length - 1; i >= 0; i--) work.push([n.children[i]!, d + 1]);
  }
  return out;
}
const codes = (r: ParsedConf) => r.problems.map((p) => `${p.code}@${path.basename(p.file)}:${p.line}`);
const clean = (r: ParsedConf) => expect(r.problems, JSON.stringify(r.problems)).to.deep.equal([]);

/** every node and problem has a file and a positive line; walks without recursion */
function assertLocated(r: ParsedConf): void {
  const work = [...r.nodes];
  while (work.length) {
    const n = work.pop()!;
    if (typeof n.file !== 'string' || !n.file || !Number.isInteger(n.line) || n.line < 1) throw new Error(`node without location: ${JSON.stringify({ ...n, children: undefined })}`);
    if (typeof n.keyword !== 'string' || !Array.isArray(n.args) || !Array.isArray(n.includedFrom)) throw new Error('malformed node');
    if (n.children) work.push(...n.children);
  }
  for (const p of r.problems as ConfProblem[]) {
    if (typeof p.file !== 'string' || !p.file || !Number.isInteger(p.line) || p.line < 1 || !p.message) throw new Error(`problem without location: ${JSON.stringify(p)}`);
  }
}

describe('keepalived.conf grammar (parse.ts)', () => {
  describe('comments', () => {
    it('starts a comment at ! or # anywhere outside double quotes', () => {
      const r = parse('! header\nrouter_id lb1 # trailing\nscript "/bin/x #1 !2" ! note\n  # indented\nauth_pass a!b');
      clean(r);
      expect(outline(r.nodes)).to.deep.equal(['router_id lb1', 'script /bin/x #1 !2', 'auth_pass a']);
    });

    it('keeps \\# and \\! as the characters, outside quotes only', () => {
      const r = parse('auth_pass s3\\#cr\\!t\nscript "a\\#b"');
      expect(outline(r.nodes)).to.deep.equal(['auth_pass s3#cr!t', 'script a\\#b']);
    });
  });

  describe('braces', () => {
    it('makes { and } tokens even when glued to a word, and takes { from the next line', () => {
      const r = parse('virtual_server 10.0.0.1 80{\n real_server 10.0.0.2 80 {weight 1}}\nvrrp_instance VI_1\n{\n state MASTER\n}\nempty {}');
      clean(r);
      expect(outline(r.nodes)).to.deep.equal(['virtual_server 10.0.0.1 80 {', '  real_server 10.0.0.2 80 {', '    weight 1', 'vrrp_instance VI_1 {', '  state MASTER', 'empty {']);
      expect(r.nodes[2]!.children).to.deep.equal([]);
    });

    it('keeps a brace inside double quotes as text', () => {
      const r = parse('notify "/bin/echo {x}" {\n a\n}');
      clean(r);
      expect(outline(r.nodes)).to.deep.equal(['notify /bin/echo {x} {', '  a']);
    });

    it('puts nodes on the line they were written on, also after a brace split', () => {
      const r = parse('a {\n\n  b { c\n d } e\n}');
      const lines: number[] = [];
      const work = [...r.nodes];
      while (work.length) {
        const n = work.shift()!;
        lines.push(n.line);
        work.unshift(...(n.children ?? []));
      }
      expect(outline(r.nodes)).to.deep.equal(['a {', '  b {', '    c', '    d', '  e']);
      expect(lines).to.deep.equal([1, 3, 3, 4, 4]);
    });

    it('records the line of the closing } as endLine, in the same file only', () => {
      const r = parse('a {\n  b { c\n d }\n\n}\nflat');
      expect(r.nodes[0]!.endLine).to.equal(5);
      expect(r.nodes[0]!.children![0]!.endLine).to.equal(3);
      expect(r.nodes[1]!.endLine).to.equal(undefined);
      const inc = parse('a {\ninclude /etc/keepalived/close.inc\n', mem({ '/etc/keepalived/close.inc': 'b\n}\n' }));
      expect(outline(inc.nodes)).to.deep.equal(['a {', '  b']);
      expect(inc.nodes[0]!.endLine).to.equal(undefined);
    });
  });

  describe('quotes and words', () => {
    it('groups double-quoted words into one argument without the quotes', () => {
      const r = parse('notification_email {\n  "NOC <noc@example.net>" ops@example.net\n}\nscript "" x\nmisc_path ab"c d"e');
      expect(outline(r.nodes)).to.deep.equal(['notification_email {', '  NOC <noc@example.net> ops@example.net', 'script  x', 'misc_path ab c d e']);
      expect(r.nodes[1]!.args).to.deep.equal(['', 'x']);
    });

    it('reports an unterminated quote once, at its line, and drops the rest of the line', () => {
      const r = parse('a\nscript "/bin/x # not a comment\nb');
      expect(codes(r)).to.deep.equal(['unterminated-quote@keepalived.conf:2']);
      expect(outline(r.nodes)).to.deep.equal(['a', 'script', 'b']);
    });

    it('keeps keywords exactly as written', () => {
      expect(outline(parse('Global_Defs {\n ROUTER_ID x\n}').nodes)).to.deep.equal(['Global_Defs {', '  ROUTER_ID x']);
    });
  });

  describe('include', () => {
    const fs = mem({
      '/etc/keepalived/keepalived.conf': '',
      '/etc/keepalived/conf.d/20-b.conf': 'b_kw 2\n\n  b_kw2',
      '/etc/keepalived/conf.d/10-a.conf': '# a\na_kw 1',
      '/etc/keepalived/conf.d/notes.txt': 'not_included',
      '/etc/keepalived/peers.inc': 'include nested/more.inc\n192.0.2.1',
      '/etc/keepalived/nested/more.inc': '\n192.0.2.9',
      '/etc/keepalived/loop.conf': 'x\ninclude loop.conf',
    });

    it('splices matches in sorted order, relative to the including file, with their own file and line', () => {
      const r = parse('top 1\ninclude conf.d/*.conf\ntop 2', fs);
      clean(r);
      expect(outline(r.nodes)).to.deep.equal(['top 1', 'a_kw 1', 'b_kw 2', 'b_kw2', 'top 2']);
      expect(r.nodes.map((n) => `${path.basename(n.file)}:${n.line}`)).to.deep.equal(['keepalived.conf:1', '10-a.conf:2', '20-b.conf:1', '20-b.conf:3', 'keepalived.conf:3']);
      expect(r.nodes[1]!.includedFrom).to.deep.equal([{ file: TOP, line: 2 }]);
      expect(r.nodes[0]!.includedFrom).to.deep.equal([]);
      expect(r.files).to.deep.equal([TOP, '/etc/keepalived/conf.d/10-a.conf', '/etc/keepalived/conf.d/20-b.conf']);
    });

    it('joins included lines to the block being read, at any depth, keeping the include chain', () => {
      const r = parse('vrrp_instance VI {\n  unicast_peer {\n    include peers.inc\n  }\n}', fs);
      clean(r);
      expect(outline(r.nodes)).to.deep.equal(['vrrp_instance VI {', '  unicast_peer {', '    192.0.2.9', '    192.0.2.1']);
      const peers = r.nodes[0]!.children![0]!.children!;
      expect(peers[0]).to.deep.include({ file: '/etc/keepalived/nested/more.inc', line: 2 });
      expect(peers[0]!.includedFrom).to.deep.equal([{ file: TOP, line: 3 }, { file: '/etc/keepalived/peers.inc', line: 1 }]);
    });

    it('reports a pattern matching nothing at the include line: a warning for a wildcard, an error for a path', () => {
      const r = parse('a\ninclude missing.d/*.conf\ninclude /etc/keepalived/absent.conf\nincludew none/*.conf', fs);
      expect(r.problems.map((p) => `${p.code}:${p.line}:${p.severity}`)).to.deep.equal(['include-missing:2:warning', 'include-missing:3:error', 'include-missing:4:error']);
      expect(r.problems[1]!.message).to.contain('/etc/keepalived/absent.conf').and.contain('plain include skips it silently');
    });

    it('reports a loop and stops following it', () => {
      const r = parse('include loop.conf', fs);
      expect(codes(r)).to.deep.equal(['include-loop@loop.conf:2']);
      expect(outline(r.nodes)).to.deep.equal(['x']);
    });

    it('stops at the include depth limit', () => {
      const files: Record<string, string> = {};
      for (let i = 0; i < 40; i++) files[`/d/f${i}.conf`] = `k${i}\ninclude f${i + 1}.conf`;
      const r = parseConfText(files['/d/f0.conf']!, '/d/f0.conf', mem(files));
      expect(codes(r)).to.deep.equal(['include-depth@f32.conf:2']);
      expect(r.nodes).to.have.length(33);
    });

    it('reads the include variants and takes the rest of the line as the pattern', () => {
      const r = parse('includer conf.d/1*.conf\nincludea conf.d/2*.conf\ninclude_check x', fs);
      expect(outline(r.nodes)).to.deep.equal(['a_kw 1', 'b_kw 2', 'b_kw2', 'include_check x']);
    });
  });

  describe('@ conditionals', () => {
    const text = '@lb1 router_id one\n@lb2 router_id two\n@^lb1 priority 100\n@lb1\nplain';
    it('keeps @ID lines for that instance and @^ID lines for every other', () => {
      expect(outline(parse(text, { instance: 'lb1' }).nodes)).to.deep.equal(['router_id one', 'plain']);
      expect(outline(parse(text, { instance: 'lb2' }).nodes)).to.deep.equal(['router_id two', 'priority 100', 'plain']);
    });
    it('drops @ID and keeps @^ID without an instance', () => {
      expect(outline(parse(text).nodes)).to.deep.equal(['priority 100', 'plain']);
    });
  });

  describe('$ definitions', () => {
    it('expands $NAME before a blank, comma, ) or the end, and ${NAME} anywhere', () => {
      const r = parse('$VIP=10.0.0.1\n$PORT=80\nvirtual_server $VIP $PORT\nip ${VIP}/24\nkeep $VIP/24');
      expect(outline(r.nodes)).to.deep.equal(['virtual_server 10.0.0.1 80', 'ip 10.0.0.1/24', 'keep $VIP/24']);
      expect(codes(r)).to.deep.equal([]);
    });

    it('expands at use time, recursively (the manual example)', () => {
      const r = parse('$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}\n$ADDRESS_BASE_SUB=0\n${ADDRESS_BASE}.100/32\n$ADDRESS_BASE_SUB=10\n${ADDRESS_BASE}.100/32');
      expect(outline(r.nodes)).to.deep.equal(['10.2.0.100/32', '10.2.10.100/32']);
    });

    it('combines with @ conditionals and has the pre-defined _HASH, _BANG, _PWD, _INSTANCE', () => {
      const r = parse('@main $PRIO=240\n@backup $PRIO=200\npriority $PRIO\nnotify "x ${_HASH}${_BANG}"\npwd ${_PWD}\nid ${_INSTANCE}', { instance: 'main' });
      expect(outline(r.nodes)).to.deep.equal(['priority 240', 'notify x #!', 'pwd /etc/keepalived', 'id main']);
    });

    it('reads a multiline definition and expands it where it ends a line', () => {
      const text = ['$INST= \\', '  vrrp_instance VI_${N} { \\', '    interface eth${N} \\', '    @hi priority 130 \\', '  }', '$N=0', '$INST', '$N=1', 'x $INST'].join('\n');
      const r = parse(text, { instance: 'hi' });
      expect(outline(r.nodes)).to.deep.equal(['vrrp_instance VI_0 {', '  interface eth0', '  priority 130', 'x vrrp_instance VI_1 {', '  interface eth1', '  priority 130']);
      expect(r.nodes.map((n) => n.line)).to.deep.equal([7, 9]);
    });

    it('warns about an undefined name and a multiline one used mid-line, leaving them as written', () => {
      const r = parse('$M= \\\n a \\\n b\nscript "/x ${HOME}" $HOME\nv ${M}x');
      expect(r.problems.map((p) => `${p.code}:${p.line}:${p.severity}`)).to.deep.equal(['undefined-variable:4:warning', 'undefined-variable:5:warning']);
      expect(r.problems[1]!.message).to.contain('multiline');
      // as in keepalived, the braces of a reference left as written are braces: they open a block
      expect(outline(r.nodes)).to.deep.equal(['script /x ${HOME} $HOME', 'v $ {', '  M', 'x']);
      expect(r.problems[0]!.message).to.contain('$HOME is not defined');
    });

    it('reports a definition keepalived would misread', () => {
      const r = parse('$VIP =10.0.0.1\n$9X=1');
      expect(codes(r)).to.deep.equal(['bad-definition@keepalived.conf:1', 'bad-definition@keepalived.conf:2']);
    });

    it('stops a definition that expands to itself instead of looping as keepalived does', () => {
      const t0 = Date.now();
      const r = parse('$A=$A\nx $A\n$B=xx${B}\ny $B');
      expect(Date.now() - t0).to.be.below(500);
      expect(codes(r)).to.deep.equal(['bad-definition@keepalived.conf:2', 'line-too-long@keepalived.conf:4']);
    });
  });

  describe('~SEQ and ~LST', () => {
    const seq = (line: string) => outline(parse(line).nodes);
    it('repeats the rest of the line for each value, with start, step and end as keepalived defaults them', () => {
      expect(seq('~SEQ(i, 3) ip 10.0.0.$i')).to.deep.equal(['ip 10.0.0.1', 'ip 10.0.0.2', 'ip 10.0.0.3']);
      expect(seq('~SEQ(i, 5, 3) n $i')).to.deep.equal(['n 5', 'n 4', 'n 3']);
      expect(seq('~SEQ(i, 0, 5, 12) n $i')).to.deep.equal(['n 0', 'n 5', 'n 10']);
      expect(seq('~SEQ(i, -2) n $i')).to.deep.equal(['n -1', 'n -2']);
      expect(seq('~SEQx(s, 0x90, 0x10, 0xc0) fe80::${s}:1')).to.deep.equal(['fe80::90:1', 'fe80::a0:1', 'fe80::b0:1', 'fe80::c0:1']);
    });

    it('nests, takes definitions as parameters, and places every repetition at the ~SEQ line', () => {
      const r = parse('$MAX=2\nvirtual_ipaddress {\n  ~SEQ(a, 1, $MAX) ~SEQ(b, 8, 9) 10.${a}.0.$b\n}');
      expect(outline(r.nodes)).to.deep.equal(['virtual_ipaddress {', '  10.1.0.8', '  10.1.0.9', '  10.2.0.8', '  10.2.0.9']);
      expect(r.nodes[0]!.children!.every((n) => n.line === 3)).to.equal(true);
    });

    it('reads ~LST with one or several variables', () => {
      expect(seq('~LST(h, web1, web2) server $h')).to.deep.equal(['server web1', 'server web2']);
      expect(seq('~LST({IP, P}, {1, 80}, {2}) rs 10.0.0.${IP} ${P}')).to.deep.equal(['rs 10.0.0.1 80', 'rs 10.0.0.2']);
    });

    it('reports a ~SEQ or ~LST keepalived refuses, and drops the line', () => {
      for (const bad of ['~SEQ(i, 1, -1, 5) x', '~SEQ(i) x', '~SEQ i, 3) x', '~SEQ(i, 1, 2', '~SEQ(i, 1, 0, 5) x', '~SEQx(i, -3) x', '~SEQ(i 1, 3) x', '~LST(a, 1 2) x', '~LST({a}, {1, 2}) x']) {
        const r = parse(bad);
        expect(codes(r), bad).to.deep.equal(['bad-seq@keepalived.conf:1']);
        expect(r.nodes, bad).to.deep.equal([]);
      }
    });

    it('stops a sequence too long to be meant, with a problem', () => {
      const saved = LIMITS.lines;
      LIMITS.lines = 20_000; // the real limit (a million) takes seconds to reach
      try {
        const r = parse('~SEQ(i, 1, 100000000) x $i');
        expect(codes(r)).to.deep.equal(['too-large@keepalived.conf:1']);
        expect(r.nodes.length).to.be.within(19_000, 20_000);
      } finally {
        LIMITS.lines = saved;
      }
    });

    it('stops a definition that grows at each use, with a problem', () => {
      const t0 = Date.now();
      const r = parse('$B=${B}${B}\ny $B');
      expect(Date.now() - t0).to.be.below(3000);
      expect(r.problems.map((p) => p.code)).to.include('too-large');
    });
  });

  describe('unbalanced braces', () => {
    it('reports a { never closed at its line and reads everything after as part of it', () => {
      const r = parse('global_defs {\n router_id a\n}\nvrrp_instance VI_1 {\n state MASTER\n authentication {\n  auth_type PASS\n}\npriority 100');
      expect(codes(r)).to.deep.equal(['unbalanced-open@keepalived.conf:4']);
      expect(r.problems[0]!.message).to.contain('is never closed').and.contain('to the end of the input');
      expect(outline(r.nodes).slice(-2)).to.deep.equal(['    auth_type PASS', '  priority 100']);
    });

    it('points at the block whose } is missing when indentation says so', () => {
      const r = parse('vrrp_instance VI_1 {\n    authentication {\n        auth_type PASS\n    virtual_ipaddress {\n        10.0.0.1\n    }\n}\n');
      expect(codes(r)).to.deep.equal(['unbalanced-open@keepalived.conf:1']);
      expect(r.problems[0]!.message).to.contain('authentication (line 2)');
    });

    it('reports the { of the next line, when the block opens there', () => {
      expect(codes(parse('a\n{\n b'))).to.deep.equal(['unbalanced-open@keepalived.conf:2']);
    });

    it('reports a stray } at its line and ignores it, as keepalived does', () => {
      const r = parse('vrrp_instance VI_1 {\n  authentication {\n    auth_type PASS\n  }}\n  priority 100\n}\nafter');
      expect(codes(r)).to.deep.equal(['unbalanced-close@keepalived.conf:6']);
      expect(r.problems[0]!.message).to.contain("Extra '}' found").and.contain('line 4');
      expect(outline(r.nodes)).to.deep.equal(['vrrp_instance VI_1 {', '  authentication {', '    auth_type PASS', 'priority 100', 'after']);
    });

    it('reports a { that follows no keyword', () => {
      const r = parse('a {\n}\n{\nb\n}');
      expect(codes(r)).to.deep.equal(['unexpected-open@keepalived.conf:3', 'unbalanced-close@keepalived.conf:5']);
    });

    it('names a section read inside another block as the missing } (the article’s HAProxy config)', () => {
      const r = parseConfFile(path.join(FIXTURES, 'article/haproxy-keepalived.conf'));
      assertLocated(r);
      expect(codes(r)).to.deep.equal(['unbalanced-open@haproxy-keepalived.conf:2']);
      expect(r.problems[0]!.message).to.contain('vrrp_script (line 2) is not closed before global_defs on line 6').and.contain("the '}' on line 26");
      expect(outline(r.nodes)[0]).to.equal('vrrp_script chk_http_port {');
      expect(r.nodes).to.have.length(1);
    });
  });

  describe('fixtures', () => {
    it('reads the director pair with its conf.d include, for either node', () => {
      const file = path.join(FIXTURES, 'director/keepalived.conf');
      for (const instance of ['lb1', 'lb2']) {
        const r = parseConfFile(file, { instance });
        clean(r);
        assertLocated(r);
        expect(r.files.map((f) => path.relative(FIXTURES, f))).to.deep.equal(['director/keepalived.conf', 'director/conf.d/10-web.conf', 'director/conf.d/20-dns.conf']);
        expect(r.nodes.map((n) => [n.keyword, ...n.args].join(' '))).to.deep.equal([
          'global_defs',
          'vrrp_script chk_ipvs',
          'vrrp_instance VI_WEB',
          'virtual_server 198.51.100.10 80',
          'virtual_server 198.51.100.10 53',
        ]);
        const vi = r.nodes[2]!.children!;
        expect(vi.find((n) => n.keyword === 'priority')!.args).to.deep.equal([instance === 'lb1' ? '150' : '100']);
        expect(vi.find((n) => n.keyword === 'unicast_peer')!.children!.map((n) => n.keyword)).to.deep.equal([instance === 'lb1' ? '192.0.2.12' : '192.0.2.11']);
        const web = r.nodes[3]!;
        expect(web.children!.filter((n) => n.keyword === 'real_server').map((n) => n.args[0])).to.deep.equal(['192.0.2.21', '192.0.2.22', '192.0.2.23']);
        expect(path.basename(web.file)).to.equal('10-web.conf');
        expect(web.includedFrom).to.deep.equal([{ file, line: 50 }]);
      }
    });

    it('reads the article’s VIP pair config cleanly', () => {
      const r = parseConfFile(path.join(FIXTURES, 'article/vip-float-master.conf'));
      clean(r);
      expect(r.nodes.map((n) => n.keyword)).to.deep.equal(['global_defs', 'vrrp_instance', 'vrrp_instance']);
      expect(r.nodes[2]!.children!.find((n) => n.keyword === 'virtual_ipaddress')!.children![0]).to.deep.include({ keyword: '203.0.113.142/26', line: 35 });
    });

    it('reports a top file it cannot read as a problem', () => {
      const r = parseConfFile(path.join(FIXTURES, 'nope.conf'));
      expect(r.problems.map((p) => p.code)).to.deep.equal(['include-missing']);
      expect(r.nodes).to.deep.equal([]);
    });
  });

  describe('glob', () => {
    it('expands csh braces in written order, nested, and leaves a lone brace alone', () => {
      expect(expandBraces('a{b,c{d,e}}f')).to.deep.equal(['abf', 'acdf', 'acef']);
      expect(expandBraces('x{y}z')).to.deep.equal(['x{y}z']);
      expect(expandBraces('{')).to.deep.equal(['{']);
    });

    it('matches files on disk sorted, skipping directories and dot files', () => {
      const dir = path.join(FIXTURES, 'director');
      expect(fsGlob(`${dir}/conf.d/*`).map((f) => path.basename(f))).to.deep.equal(['10-web.conf', '20-dns.conf', 'NOTES']);
      expect(fsGlob(`${dir}/*`).map((f) => path.basename(f))).to.deep.equal(['keepalived.conf']);
      expect(fsGlob(`${dir}/conf.d/{20,10}-*.conf`).map((f) => path.basename(f))).to.deep.equal(['20-dns.conf', '10-web.conf']);
      expect(fsGlob(`${dir}/nothing/*.conf`)).to.deep.equal([]);
    });
  });

  describe('hostile input', () => {
    it('reports NULs, long lines and sheer size instead of throwing', () => {
      expect(codes(parse('a\nb\0c\nd'))).to.deep.equal(['binary-input@keepalived.conf:2']);
      expect(outline(parse('a\nb\0c\nd').nodes)).to.deep.equal(['a', 'd']);
      expect(codes(parse(`a\n${'x'.repeat(2000)}\nb`))).to.deep.equal(['line-too-long@keepalived.conf:2']);
      expect(codes(parse('a '.repeat(10_000_000)))).to.deep.equal(['too-large@keepalived.conf:1']);
    });

    it('survives deep nesting without recursion', () => {
      const r = parse('a {\n'.repeat(100_000) + '}\n'.repeat(100_000));
      assertLocated(r);
      expect(codes(r)).to.deep.equal([`too-large@keepalived.conf:${MAX_DEPTH + 1}`]);
    });

    it('never throws on random bytes, and locates everything it returns', function () {
      let seed = 42;
      const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
      const alphabet = 'ab {}"#!\\$@~()=,\n\n\t\0\r';
      // a fixed number of inputs, not a time box: a loaded machine must not make it fail
      let runs = 0;
      while (runs < 300) {
        const len = rnd(400);
        let s = '';
        for (let i = 0; i < len; i++) s += rnd(3) ? alphabet[rnd(alphabet.length)] : String.fromCharCode(rnd(256));
        assertLocated(parse(s, { instance: 'a', ...mem({}) }));
        runs++;
      }
      expect(runs).to.be.at.least(200);
    });

    it('never throws on mutated fixtures: braces and quotes deleted or doubled, truncation', () => {
      const sources = ['director/keepalived.conf', 'director/conf.d/10-web.conf', 'director/conf.d/20-dns.conf', 'article/haproxy-keepalived.conf'].map((f) => readFileSync(path.join(FIXTURES, f), 'utf8'));
      let seed = 7;
      const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
      const fs = mem({ '/etc/keepalived/conf.d/10-web.conf': sources[1]!, '/etc/keepalived/conf.d/20-dns.conf': sources[2]! });
      let runs = 0;
      while (runs < 200) {
        let s = sources[rnd(sources.length)]!;
        for (let k = rnd(4) + 1; k > 0; k--) {
          const specials = [...s.matchAll(/[{}"\\$]/g)].map((m) => m.index!);
          const at = specials.length ? specials[rnd(specials.length)]! : 0;
          const op = rnd(4);
          if (op === 0) s = s.slice(0, at) + s.slice(at + 1);
          else if (op === 1) s = s.slice(0, at) + s[at] + s.slice(at);
          else if (op === 2) s = s.slice(0, rnd(s.length + 1));
          else s = s.slice(0, at) + '\n' + s.slice(at);
        }
        assertLocated(parse(s, { instance: 'lb1', ...fs }));
        runs++;
      }
      expect(runs).to.be.at.least(200);
    });
  });

  it('parses a 2,000-line configuration in a few milliseconds', () => {
    const parts = ['global_defs {\n  router_id lb1\n}'];
    let lines = 3;
    for (let vs = 0; lines < 2000; vs++) {
      parts.push(`virtual_server 198.51.100.${vs % 250} ${8000 + vs} {\n  lb_algo wlc\n  lb_kind DR  # direct routing\n  protocol TCP`);
      lines += 5;
      for (let rs = 1; rs <= 4; rs++, lines += 7) parts.push(`  real_server 192.0.2.${rs} ${8000 + vs} {\n    weight 10\n    TCP_CHECK {\n      connect_timeout 3\n      retry 2\n    }\n  }`);
      parts.push('}');
    }
    const text = parts.join('\n');
    expect(text.split('\n').length).to.be.at.least(2000);
    parse(text); // warm up the JIT
    const runs = 20;
    const t0 = process.hrtime.bigint();
    let r: ParsedConf | undefined;
    for (let i = 0; i < runs; i++) r = parse(text);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6 / runs;
    clean(r!);
    console.log(`      2,000-line keepalived.conf parsed in ${ms.toFixed(2)} ms (mean of ${runs})`);
    expect(ms).to.be.below(50);
  });
});
