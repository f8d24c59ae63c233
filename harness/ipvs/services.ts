import { readFileSync } from 'node:fs';

/**
 * Port names as `ipvsadm -S` prints them without -n (getservbyport) and as operators write
 * them (`-t VIP:http`). ipvsadm resolves them through /etc/services; a file saved on another
 * host may name ports this host does not know, so the table is injectable.
 */
export type ServiceProtocol = 'tcp' | 'udp' | 'sctp';

export interface ServicesTable {
  /** the port a name stands for, or undefined when the name is unknown */
  lookup(name: string, protocol: ServiceProtocol): number | undefined;
  /** a few names, for "allowed" in error messages */
  examples: readonly string[];
}

// The common names of Debian's /etc/services (netbase), for hosts without the file. Each
// holds for tcp, udp and sctp alike; the few that differ by protocol are not worth the table.
const BUILTIN: Record<string, number> = {
  'ftp-data': 20,
  ftp: 21,
  ssh: 22,
  telnet: 23,
  smtp: 25,
  domain: 53,
  tftp: 69,
  http: 80,
  www: 80,
  kerberos: 88,
  pop3: 110,
  ntp: 123,
  imap: 143,
  imap2: 143,
  snmp: 161,
  ldap: 389,
  https: 443,
  'microsoft-ds': 445,
  submissions: 465,
  smtps: 465,
  syslog: 514,
  submission: 587,
  ldaps: 636,
  imaps: 993,
  pop3s: 995,
  openvpn: 1194,
  'ms-sql-s': 1433,
  radius: 1812,
  nfs: 2049,
  mysql: 3306,
  'ms-wbt-server': 3389,
  sip: 5060,
  'sip-tls': 5061,
  postgresql: 5432,
  'http-alt': 8080,
  webcache: 8080,
};

/** name/proto → port from the text of an /etc/services file; malformed lines are ignored. */
export function parseEtcServices(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const words = raw.replace(/#.*/, '').trim().split(/\s+/);
    const m = words[1]?.match(/^(\d{1,5})\/(\w+)$/);
    if (!m || Number(m[1]) > 65535) continue;
    for (const name of [words[0]!, ...words.slice(2)]) {
      const key = `${name}/${m[2]}`;
      if (!out.has(key)) out.set(key, Number(m[1]));
    }
  }
  return out;
}

/** /etc/services first (as getservbyname), then the built-in names. */
export function servicesTable(etcServices?: string): ServicesTable {
  const etc = etcServices ? parseEtcServices(etcServices) : new Map<string, number>();
  return {
    lookup: (name, protocol) => etc.get(`${name}/${protocol}`) ?? (Object.hasOwn(BUILTIN, name) ? BUILTIN[name] : undefined),
    examples: ['http', 'https', 'domain', 'mysql'],
  };
}

let system: ServicesTable | undefined;

/** This host's /etc/services when it can be read, with the built-in names behind it. */
export function systemServices(): ServicesTable {
  if (!system) {
    let text: string | undefined;
    try {
      text = readFileSync('/etc/services', 'utf8');
    } catch {
      // no file (minimal containers): the built-in names alone
    }
    system = servicesTable(text);
  }
  return system;
}
