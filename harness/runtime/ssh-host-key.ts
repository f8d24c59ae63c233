/**
 * Host key checks for SSH nodes, as OpenSSH does them with StrictHostKeyChecking=yes: a key
 * pinned by its fingerprint, or one listed in known_hosts; an unknown key and a changed key are
 * both refused, never accepted on first use. Pure: the caller reads the files.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** OpenSSH's fingerprint of a public key blob (the wire format, as in a .pub file's base64): `SHA256:` and unpadded base64. */
export const fingerprint = (blob: Buffer): string => `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;

/** The key type a blob starts with (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`), or `unknown`. */
export function keyType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return 'unknown';
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** A fingerprint as a user may paste it: `SHA256:abc…`, with or without base64 padding. Undefined when it is not one. */
export function normalizeFingerprint(text: string): string | undefined {
  const m = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(text.trim());
  return m ? `SHA256:${m[1]}` : undefined;
}

/** How known_hosts names a host: `host` on port 22, `[host]:port` on any other. */
export const knownHostsName = (host: string, port: number): string => (port === 22 ? host : `[${host}]:${port}`).toLowerCase();

export interface KnownHostsEntry {
  /** 1-based, for messages */
  line: number;
  marker?: 'cert-authority' | 'revoked';
  /** the host field as written: patterns separated by commas, or one `|1|salt|hash` */
  hosts: string;
  type: string;
  key: Buffer;
}

/** The entries of a known_hosts file; comments, blank and malformed lines are skipped. */
export function parseKnownHosts(text: string): KnownHostsEntry[] {
  const entries: KnownHostsEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith('#')) return;
    let marker: KnownHostsEntry['marker'];
    if (fields[0].startsWith('@')) {
      const m = fields.shift()!;
      if (m !== '@cert-authority' && m !== '@revoked') return;
      marker = m.slice(1) as KnownHostsEntry['marker'];
    }
    const [hosts, type, b64] = fields;
    if (!hosts || !type || !b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return;
    const key = Buffer.from(b64, 'base64');
    if (keyType(key) !== type) return;
    entries.push({ line: i + 1, marker, hosts, type, key });
  });
  return entries;
}

/** Glob as known_hosts writes it: `*` any run, `?` one character. */
function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(name);
}

/** True when the entry's host field names this host: a hashed `|1|` name, or patterns where a negated one (`!pat`) wins. */
export function hostFieldMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith('|1|')) {
    const [, , salt, hash] = hosts.split('|');
    if (!salt || !hash) return false;
    const want = Buffer.from(hash, 'base64');
    const got = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
    return want.length === got.length && timingSafeEqual(want, got);
  }
  let hit = false;
  for (const p of hosts.split(',')) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) hit = true;
  }
  return hit;
}

/** The host key algorithms ssh2 may negotiate for keys of these known_hosts types. */
const ALGOS: Record<string, readonly string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/**
 * Like OpenSSH, ask the host only for key types known_hosts holds for it: a host with an
 * ed25519 and an RSA key, listed with the RSA one only, must not be taken for a changed key.
 * Undefined (no restriction) when none is known, or none ssh2 speaks.
 */
export function hostKeyAlgorithms(known: readonly KnownHostsEntry[]): string[] | undefined {
  const algos = [...new Set(known.filter((e) => !e.marker).flatMap((e) => ALGOS[e.type] ?? []))];
  return algos.length ? algos : undefined;
}

export const entriesFor = (entries: readonly KnownHostsEntry[], host: string, port: number): KnownHostsEntry[] => {
  const name = knownHostsName(host, port);
  return entries.filter((e) => hostFieldMatches(e.hosts, name));
};

export type HostKeyVerdict =
  | { ok: true; how: string }
  | { ok: false; kind: 'unknown' | 'changed' | 'revoked'; message: string; hint: string };

export interface HostKeyPolicy {
  host: string;
  port: number;
  /** normalized `SHA256:…` */
  pinned?: string;
  knownHosts?: { file: string; entries: readonly KnownHostsEntry[] };
}

/** Accept or refuse the key a host offered. */
export function verifyHostKey(blob: Buffer, policy: HostKeyPolicy): HostKeyVerdict {
  const fp = fingerprint(blob);
  const type = keyType(blob);
  const offers = `it offers ${type} ${fp}`;
  const name = knownHostsName(policy.host, policy.port);
  const portArg = policy.port === 22 ? '' : `-p ${policy.port} `;
  if (policy.pinned) {
    if (fp === policy.pinned) return { ok: true, how: 'pinned fingerprint' };
    return {
      ok: false,
      kind: 'changed',
      message: `the host key has CHANGED: ${offers}, but the pinned hostKey is ${policy.pinned}; refusing to connect (was the host reinstalled, or is someone in between?)`,
      hint: `check the host's key out of band (on the host: for k in /etc/ssh/ssh_host_*_key.pub; do ssh-keygen -lf $k; done); if it is ${fp}, pin hostKey: '${fp}'`,
    };
  }
  const file = policy.knownHosts?.file ?? 'known_hosts';
  const mine = entriesFor(policy.knownHosts?.entries ?? [], policy.host, policy.port);
  const same = (e: KnownHostsEntry) => e.key.equals(blob);
  const revoked = mine.find((e) => e.marker === 'revoked' && same(e));
  if (revoked)
    return {
      ok: false,
      kind: 'revoked',
      message: `${offers}, which ${file}:${revoked.line} marks @revoked; refusing to connect`,
      hint: `the host must get a new key; then pin it with hostKey: 'SHA256:…'`,
    };
  const plain = mine.filter((e) => !e.marker);
  const match = plain.find(same);
  if (match) return { ok: true, how: `${file}:${match.line}` };
  if (plain.length) {
    const had = plain.map((e) => `${file}:${e.line} has ${e.type} ${fingerprint(e.key)}`).join('; ');
    return {
      ok: false,
      kind: 'changed',
      message: `the host key has CHANGED: ${offers}, but ${had}; refusing to connect (was the host reinstalled, or is someone in between?)`,
      hint: `if the host was reinstalled, check its new key out of band, then drop the old one: ssh-keygen -R '${name}' -f ${file}, and pin hostKey: '${fp}' or add the new key to ${file}`,
    };
  }
  return {
    ok: false,
    kind: 'unknown',
    message: `unknown host key: ${offers}, which is neither pinned (hostKey) nor in ${file}; refusing to connect`,
    hint: `check the fingerprint out of band (on the host: ssh-keygen -lf <its host key>.pub), then pin it with hostKey: '${fp}', or add it to ${file}: ssh-keyscan ${portArg}${policy.host} >> ${file}`,
  };
}
