import { z } from 'zod';
import { parseTargetValue, type ExpectKey } from '../expect/spec.js';
import { SCHEDULERS } from '../ipvs/rules.js';
import { bigIntToIp6, ip6ToBigInt, isIPv6 } from './net.js';

/**
 * The topology file format (YAML). Field names are snake_case as in keepalived and most
 * operator-facing YAML; every error names the file, the path inside it, the value found
 * and what is allowed (see loader.ts).
 */
const name = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'a name of lower-case letters, digits and "-" (at most 31, starting with a letter)');
const ipv4 = z.string().regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, 'an IPv4 address such as 10.89.1.100');
const cidr = z.string().regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(1[6-9]|2[0-9])$/, 'an IPv4 subnet from /16 to /29 such as 10.89.1.0/24');
const cidr6 = z
  .string()
  .refine(
    (v) => {
      const [a, len] = v.split('/');
      return isIPv6(a ?? '') && /^\d+$/.test(len ?? '') && Number(len) >= 64 && Number(len) <= 96;
    },
    { message: 'an IPv6 subnet from /64 to /96 such as fd89:10::/64', params: { allowed: true } },
  );
/** IPVS schedulers and the HAProxy balance algorithm that keeps the same promise */
export const HAPROXY_BALANCE = { rr: 'roundrobin', wrr: 'roundrobin', lc: 'leastconn', wlc: 'leastconn', sh: 'source' } as const;
const port = z.number().int().min(1).max(65535);
const sysctlValue = z.union([z.string(), z.number()]).transform(String);
const sysctls = z.record(z.string().regex(/^net\.[a-z0-9_.-]+$/, 'a net.* sysctl (the ones a container may set)'), sysctlValue);
const attach = z.record(name, z.union([ipv4, z.literal('auto')]));

/**
 * A real host reached over SSH instead of a container (issue 14): runtime/ssh-node.ts. Its
 * addresses on the topology's networks are the host's own (given, not `auto`); everything the
 * harness changes on it is recorded and undone (topology/host-undo.ts).
 */
const sshFingerprint = z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'a SHA256 host key fingerprint as `ssh-keygen -lf` prints it (SHA256: and 43 base64 characters)');
const ssh = z
  .strictObject({
    host: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.:_-]*$/, 'a host name or address such as lb1.example.net or 192.0.2.10'),
    port: port.default(22),
    user: z.string().regex(/^[a-z_][a-z0-9_.-]*\$?$/i, 'a user name such as root or deploy'),
    /** a private key file; relative to the topology file's directory, or ~/ */
    key_file: z.string().min(1).optional(),
    /** an ssh-agent: its socket path, or true for $SSH_AUTH_SOCK */
    agent: z
      .unknown()
      .refine((v) => v === true || (typeof v === 'string' && v.length > 0), { message: 'an ssh-agent socket path, or true for $SSH_AUTH_SOCK', params: { allowed: true } })
      .transform((v) => v as string | true)
      .optional(),
    /** the host key's fingerprint, checked instead of known_hosts */
    host_key: sshFingerprint.optional(),
    /** a known_hosts file (default ~/.ssh/known_hosts); relative to the topology file's directory, or ~/ */
    known_hosts: z.string().min(1).optional(),
    /** run commands through `sudo -n` (default: when user is not root) */
    sudo: z.boolean().optional(),
    /** as OpenSSH's ProxyCommand: run by `sh -c` here, its stdin/stdout are the connection; %h %p %r %% substituted */
    proxy_command: z.string().min(1).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.key_file === undefined && s.agent === undefined) ctx.addIssue({ code: 'custom', path: ['key_file'], message: 'an SSH node needs key_file (a private key) or agent (an ssh-agent socket, or true for $SSH_AUTH_SOCK)' });
    if (s.host_key !== undefined && s.known_hosts !== undefined)
      ctx.addIssue({ code: 'custom', path: ['host_key'], message: 'give host_key (a pinned fingerprint) or known_hosts (a file), not both' });
  });
export type SshSpec = z.output<typeof ssh>;

const director = z.strictObject({
  name,
  networks: attach,
  ssh: ssh.optional(),
  sysctls: sysctls.optional(),
  /** per-director keepalived overrides: how a broken pair is built (a mismatched auth_pass) */
  keepalived: z.strictObject({ auth_pass: z.string().regex(/^\S{1,8}$/, 'one word of at most 8 characters').optional() }).optional(),
});

/** A health check keepalived runs against each real server of a service (its virtual_server block). */
const healthCheck = z.strictObject({
  type: z.enum(['tcp', 'http', 'misc', 'ping']),
  delay_loop: z.number().min(1).max(3600).default(2),
  connect_timeout: z.number().min(0.1).max(60).default(1),
  retry: z.number().int().min(0).max(10).default(1),
  delay_before_retry: z.number().min(0).max(60).default(1),
  /** http: the URL and the status that means healthy */
  path: z.string().startsWith('/').default('/health'),
  status_code: z.number().int().min(100).max(599).default(200),
  /** tcp/http: another port than the service's (how a check pointed at the wrong port is built) */
  port: port.optional(),
  /** keep a failed server in IPVS with weight 0 instead of removing it */
  inhibit_on_failure: z.boolean().default(false),
});

/** One VRRP instance: the directors that share its VIPs, with their priorities (the highest starts MASTER). */
const vrrpInstance = z.strictObject({
  name: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,30}$/, 'an instance name of letters, digits and "_" such as VI_1'),
  /** the network whose interface sends the adverts */
  network: name,
  virtual_router_id: z.number().int().min(1).max(255),
  priorities: z.record(name, z.number().int().min(1).max(254)),
  advert_int: z.number().min(0.01).max(255).default(1),
  version: z.literal([2, 3]).default(2),
  /** VRRPv2 PASS authentication (at most 8 characters) */
  auth_pass: z.string().regex(/^\S{1,8}$/, 'one word of at most 8 characters').optional(),
  /** addresses the MASTER holds: service VIPs, and for NAT a floating gateway on the real servers' network */
  vips: z.array(z.strictObject({ address: ipv4, network: name })).min(1),
  nopreempt: z.boolean().default(false),
  preempt_delay: z.number().min(0).max(1000).optional(),
  /** adverts by unicast to the other directors instead of multicast 224.0.0.18 */
  unicast: z.boolean().default(false),
  /**
   * a vrrp_script + track_script watching a process on each director (HAProxy): every
   * `interval` s; after `fall` failures the priority moves by `weight` (negative: below the
   * BACKUP's, so it takes over), after `rise` successes it is restored
   */
  track_process: z
    .strictObject({
      process: z.enum(['haproxy']),
      interval: z.number().int().min(1).max(60).default(1),
      fall: z.number().int().min(1).max(10).default(2),
      rise: z.number().int().min(1).max(10).default(2),
      weight: z.number().int().min(-253).max(253),
    })
    .optional(),
});

const keepalived = z.strictObject({
  /** empty: keepalived on a lone director programs IPVS and runs the health checks, with no VRRP (its VIPs are the director's) */
  vrrp: z.array(vrrpInstance),
  /** IPVS connection synchronisation (lvs_sync_daemon) on the first instance's network */
  sync_daemon: z.boolean().default(false),
});

const app = z.strictObject({
  http_port: port.default(80),
  udp_port: port.optional(),
});

const realServer = z.strictObject({
  name,
  networks: attach,
  app: app.default({ http_port: 80 }),
  ssh: ssh.optional(),
  sysctls: sysctls.optional(),
});

const client = z.strictObject({
  name,
  count: z.number().int().min(1).max(16).default(1),
  networks: attach,
  /** how many source addresses each client sends from (persistence and hashing need many) */
  source_addresses: z.number().int().min(1).max(64).default(1),
  /** a real host over SSH (a client with count 1) */
  ssh: ssh.optional(),
  sysctls: sysctls.optional(),
});

const serviceRealServer = z.strictObject({
  name,
  port: port.optional(),
  /** how IPVS forwards to it; not for an HAProxy service, which connects to the real server itself */
  method: z.enum(['masq', 'droute', 'tunnel']).optional(),
  weight: z.number().int().min(0).max(65535).default(1),
  u_threshold: z.number().int().min(0).max(65535).optional(),
  l_threshold: z.number().int().min(0).max(65535).optional(),
});

const service = z
  .strictObject({
    name: name.optional(),
    /** IPv4, or IPv6 on a network that has a subnet6 */
    vip: z
      .string()
      .refine((v) => ipv4.safeParse(v).success || isIPv6(v), { message: 'an IPv4 or IPv6 address such as 10.89.1.100 or fd89:10::100', params: { allowed: true } })
      // the canonical spelling, as ipvsadm prints it (the builder compares the two)
      .transform((v) => (isIPv6(v) ? bigIntToIp6(ip6ToBigInt(v)) : v)),
    /**
     * more destination addresses of a firewall-mark service, as a cache cluster has: the director
     * marks traffic to each of them (and the VIP) on the mark's ports, and each is planned as a VIP
     */
    extra_vips: z.array(ipv4).min(1).optional(),
    port: port.optional(),
    protocol: z.enum(['tcp', 'udp']).default('tcp'),
    /** a firewall-mark service: the director marks packets to vip:ports and IPVS balances the mark */
    fwmark: z.strictObject({ mark: z.number().int().min(1).max(4294967295), ports: z.array(port).min(1) }).optional(),
    scheduler: z.enum(SCHEDULERS),
    persistence: z.strictObject({ timeout: z.number().int().min(1).max(31536000), netmask: ipv4.optional() }).optional(),
    /** keepalived health-checks the real servers (topologies with a keepalived section) */
    health_check: healthCheck.optional(),
    /** masq plus SNAT to the director's address on the real servers' side (full-NAT) */
    fullnat: z.boolean().default(false),
    /**
     * who balances: the kernel's IPVS (default), or HAProxy on the directors (a layer-7 proxy
     * bound to the VIP; the scheduler maps to its balance algorithm, the health check to its checks)
     */
    balancer: z.enum(['ipvs', 'haproxy']).default('ipvs'),
    real_servers: z.array(serviceRealServer).min(1),
  })
  .superRefine((s, ctx) => {
    if (s.fwmark === undefined && s.port === undefined) ctx.addIssue({ code: 'custom', path: ['port'], message: 'a port is required unless the service is a fwmark service' });
    if (s.fwmark !== undefined && s.port !== undefined) ctx.addIssue({ code: 'custom', path: ['port'], message: 'a fwmark service takes its ports from fwmark.ports, not port' });
    if (s.extra_vips !== undefined && s.fwmark === undefined)
      ctx.addIssue({ code: 'custom', path: ['extra_vips'], message: 'several destination addresses need a firewall-mark service (fwmark): a service on an address and port has one address' });
    if (s.balancer === 'haproxy') {
      for (const [bad, field, why] of [
        [s.protocol !== 'tcp', 'protocol', 'HAProxy proxies TCP here'],
        [s.fwmark !== undefined, 'fwmark', 'firewall marks are an IPVS feature'],
        [s.fullnat, 'fullnat', 'HAProxy always connects from the director (full-NAT is implied)'],
        [s.persistence !== undefined, 'persistence', 'use scheduler: sh (balance source) for client affinity through HAProxy'],
        [!(HAPROXY_BALANCE as Record<string, string | undefined>)[s.scheduler], 'scheduler', `HAProxy balances with ${Object.keys(HAPROXY_BALANCE).join(', ')} (roundrobin, leastconn, source)`],
      ] as const)
        if (bad) ctx.addIssue({ code: 'custom', path: [field], message: `not for an HAProxy service: ${why}` });
    }
    s.real_servers.forEach((r, i) => {
      if (s.balancer === 'haproxy' && r.method !== undefined)
        ctx.addIssue({ code: 'custom', path: ['real_servers', i, 'method'], message: 'an HAProxy service has no forwarding method (HAProxy connects to the real server itself); leave method out' });
      if (s.balancer === 'ipvs' && r.method === undefined)
        ctx.addIssue({ code: 'custom', path: ['real_servers', i, 'method'], message: 'is required for an IPVS service (masq, droute or tunnel)' });
      if (r.l_threshold !== undefined && r.u_threshold !== undefined && r.l_threshold > r.u_threshold)
        ctx.addIssue({ code: 'custom', path: ['real_servers', i, 'l_threshold'], message: `the lower threshold ${r.l_threshold} is above the upper threshold ${r.u_threshold}` });
      if (s.fullnat && r.method !== 'masq') ctx.addIssue({ code: 'custom', path: ['real_servers', i, 'method'], message: 'full-NAT services forward with masq' });
    });
  });

/** an operator's target for one measured value, kept as written (the planner reads it with harness/expect/) */
const target = (key: ExpectKey) =>
  z
    .union([z.string(), z.number()])
    .transform(String)
    .superRefine((v, ctx) => {
      if (typeof parseTargetValue(key, v) === 'string')
        ctx.addIssue({ code: 'custom', message: key === 'errors' ? 'a count (a whole number such as 0)' : 'a duration with its unit, such as 2s, 1.5s or 500ms', params: { allowed: true } });
    });
const expectations = z.strictObject({ failover: target('failover').optional(), removal: target('removal').optional(), reinsertion: target('reinsertion').optional(), preemption: target('preemption').optional(), errors: target('errors').optional() });

export const topologySchema = z.strictObject({
  name,
  description: z.string().optional(),
  /** subnet6 makes a network dual-stack: every node on it also gets prefix + its IPv4 host number */
  /**
   * docker_network: an existing Docker network the container nodes join instead of one the
   * harness creates (never created nor removed by it): how containers share a LAN with SSH hosts
   */
  networks: z
    .array(
      z.strictObject({
        name,
        subnet: cidr,
        subnet6: cidr6.optional(),
        docker_network: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a Docker network name such as lan or staging-macvlan').optional(),
      }),
    )
    .min(1),
  directors: z.array(director).min(1),
  real_servers: z.array(realServer).min(1),
  clients: z.array(client).min(1),
  services: z.array(service).min(1),
  /** directors run keepalived: VRRP moves the VIPs, keepalived programs IPVS and health-checks */
  keepalived: keepalived.optional(),
  /** the operator's targets (harness/expect/): a measured value past one fails its check; `run --expect` overrides them key by key */
  expect: expectations.optional(),
});

export type TopologyFile = z.input<typeof topologySchema>;
export type Topology = z.output<typeof topologySchema>;
export type ServiceSpec = Topology['services'][number];
export type KeepalivedSpec = NonNullable<Topology['keepalived']>;
export type HealthCheckSpec = NonNullable<ServiceSpec['health_check']>;
