/*
 * dockerd-reexec: the lab VM's short cut for two of the Docker engine's re-executions of itself.
 *
 * Docker 20.10 (the lab's engine, from Debian) runs its own 75 MB binary again for small jobs:
 * as the OCI prestart hook of every container start ("libnetwork-setkey": hand the container's
 * network namespace to the daemon) and, inside the daemon, once per sandbox ("set-ipv6": write
 * disable_ipv6 in the container's namespace). Under software emulation each such start of the
 * Go binary costs about three seconds of CPU, and the daemon does them one after the other: five
 * containers of a topology spent 30 s there, the better part of its build.
 *
 * lab-init registers this program with binfmt_misc (flags P and F) for files whose first bytes
 * are the dockerd binary's own ELF header, once dockerd is up. The kernel then runs it as
 *   dockerd-reexec <file> <argv[0]> <argv[1]> ...
 * for every exec of dockerd, and it does the two jobs above itself, as dockerd's own code does
 * them (same messages and exit codes, same wire format to the daemon's socket). Any other
 * re-execution (docker-untar, docker-applyLayer, docker-mountfrom, netns-create, ...) and
 * dockerd itself run as before: this program executes a copy of dockerd whose header differs
 * in one padding byte (lab-init makes it), which binfmt_misc does not match, with the same
 * arguments. If anything here is missing, the lab runs the slow way; nothing else changes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FALLBACK
#define FALLBACK "/usr/local/libexec/dockerd-unmatched"
#endif

static char *slurp(int fd, size_t *n) {
  size_t cap = 4096, len = 0;
  char *b = malloc(cap + 1);
  if (!b) return NULL;
  for (;;) {
    if (len == cap) {
      char *nb = realloc(b, cap * 2 + 1);
      if (!nb) { free(b); return NULL; }
      b = nb; cap *= 2;
    }
    ssize_t r = read(fd, b + len, cap - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) { free(b); return NULL; }
    if (r == 0) break;
    len += (size_t)r;
  }
  b[len] = 0;
  if (n) *n = len;
  return b;
}

/* libnetwork-setkey [-exec-root=DIR] <container-id> <short-controller-id>, the OCI state on stdin:
   {"ContainerID":"<id>","Key":"/proc/<pid>/ns/net"} to DIR/libnetwork/<controller>.sock, "success" back */
static int setkey(int argc, char **argv) {
  const char *root = "/run/docker", *pos[2] = {0, 0};
  int np = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strncmp(a, "--exec-root=", 12)) root = a + 12;
    else if (!strncmp(a, "-exec-root=", 11)) root = a + 11;
    else if ((!strcmp(a, "-exec-root") || !strcmp(a, "--exec-root")) && i + 1 < argc) root = argv[++i];
    else if (np < 2) pos[np++] = a;
  }
  if (np < 2) { fprintf(stderr, "libnetwork-setkey: expected <container-id> <controller-id>\n"); return 1; }
  char *state = slurp(0, NULL);
  char *p = state ? strstr(state, "\"pid\"") : NULL;
  if (p) p = strchr(p, ':');
  long pid = p ? strtol(p + 1, NULL, 10) : 0;
  if (pid <= 0) { fprintf(stderr, "libnetwork-setkey: no pid in the OCI state on stdin\n"); return 1; }
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (snprintf(sa.sun_path, sizeof sa.sun_path, "%s/libnetwork/%s.sock", root, pos[1]) >= (int)sizeof sa.sun_path) {
    fprintf(stderr, "libnetwork-setkey: socket path too long\n");
    return 1;
  }
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
    fprintf(stderr, "libnetwork-setkey: %s: %s\n", sa.sun_path, strerror(errno));
    return 1;
  }
  char msg[1024];
  int m = snprintf(msg, sizeof msg, "{\"ContainerID\":\"%s\",\"Key\":\"/proc/%ld/ns/net\"}", pos[0], pid);
  /* one write: the daemon takes the key from a single read */
  if (m >= (int)sizeof msg || write(s, msg, (size_t)m) != m) { fprintf(stderr, "libnetwork-setkey: sending the key: %s\n", strerror(errno)); return 1; }
  char *reply = slurp(s, NULL);
  if (!reply || strcmp(reply, "success")) { fprintf(stderr, "libnetwork-setkey: %s\n", reply ? reply : strerror(errno)); return 1; }
  return 0;
}

/* set-ipv6 <netns path> <interface> <true|false>: disable_ipv6 of the interface in that namespace */
static int set_ipv6(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "invalid number of arguments for %s\n", argv[0]); return 1; }
  int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0) { fprintf(stderr, "failed get network namespace \"%s\": %s\n", argv[1], strerror(errno)); return 2; }
  if (setns(fd, CLONE_NEWNET) < 0) { fprintf(stderr, "setting into container netns \"%s\" failed: %s\n", argv[1], strerror(errno)); return 3; }
  close(fd);
  int enable = !strcmp(argv[3], "true");
  char path[512];
  snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", argv[2]);
  int w = open(path, O_WRONLY | O_CLOEXEC);
  if (w < 0 || write(w, enable ? "0\n" : "1\n", 2) != 2) {
    fprintf(stderr, "failed to %s IPv6 forwarding for container's interface %s: %s\n", enable ? "enable" : "disable", argv[2], strerror(errno));
    return 4;
  }
  close(w);
  return 0;
}

/* argv run to its end, `input` (if any) on its stdin, its output to /dev/null unless `quiet` is 0; its exit status */
static int run(char *const argv[], const char *input, int quiet) {
  int in[2] = {-1, -1};
  if (input && pipe(in) < 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (input) { dup2(in[0], 0); close(in[0]); close(in[1]); }
    if (quiet) {
      int dn = open("/dev/null", O_WRONLY);
      if (dn >= 0) { dup2(dn, 1); dup2(dn, 2); }
    }
    execvp(argv[0], argv);
    _exit(127);
  }
  if (input) {
    close(in[0]);
    size_t left = strlen(input);
    while (left) {
      ssize_t w = write(in[1], input, left);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      input += w; left -= (size_t)w;
    }
    close(in[1]);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0) if (errno != EINTR) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* setup-resolver <netns path> <udp host:port> <tcp host:port>: the embedded DNS server's NAT rules
   in the container's namespace (127.0.0.11:53 to the daemon's ports), the rules dockerd's own code
   makes with nine iptables runs, made here with one check and one iptables-restore */
static int setup_resolver(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "invalid number of arguments..\n"); return 1; }
  char ip[64], udp[16], tcp[16];
  const char *cu = strrchr(argv[2], ':'), *ct = strrchr(argv[3], ':');
  if (!cu || !ct || cu - argv[2] >= (long)sizeof ip || strlen(cu + 1) >= sizeof udp || strlen(ct + 1) >= sizeof tcp) {
    fprintf(stderr, "setup-resolver: bad addresses %s %s\n", argv[2], argv[3]);
    return 1;
  }
  memcpy(ip, argv[2], (size_t)(cu - argv[2]));
  ip[cu - argv[2]] = 0;
  strcpy(udp, cu + 1);
  strcpy(tcp, ct + 1);
  int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0) { fprintf(stderr, "failed get network namespace \"%s\": %s\n", argv[1], strerror(errno)); return 2; }
  if (setns(fd, CLONE_NEWNET) < 0) { fprintf(stderr, "setting into container net ns %s failed, %s\n", argv[1], strerror(errno)); return 3; }
  close(fd);
  /* as dockerd: chains already there (checked by the jump to DOCKER_OUTPUT) are flushed and refilled,
     else made and jumped to; the rules in the order dockerd's inserts leave them */
  char *check[] = {"iptables", "--wait", "-t", "nat", "-C", "OUTPUT", "-d", ip, "-j", "DOCKER_OUTPUT", NULL};
  int have = run(check, NULL, 1) == 0;
  char rules[2048];
  int m = snprintf(rules, sizeof rules, "*nat\n:DOCKER_OUTPUT - [0:0]\n:DOCKER_POSTROUTING - [0:0]\n");
  if (!have)
    m += snprintf(rules + m, sizeof rules - (size_t)m, "-I OUTPUT 1 -d %s/32 -j DOCKER_OUTPUT\n-I POSTROUTING 1 -d %s/32 -j DOCKER_POSTROUTING\n", ip, ip);
  snprintf(rules + m, sizeof rules - (size_t)m,
           "-A DOCKER_OUTPUT -d %s/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination %s\n"
           "-A DOCKER_OUTPUT -d %s/32 -p udp -m udp --dport 53 -j DNAT --to-destination %s\n"
           "-A DOCKER_POSTROUTING -s %s/32 -p tcp -m tcp --sport %s -j SNAT --to-source :53\n"
           "-A DOCKER_POSTROUTING -s %s/32 -p udp -m udp --sport %s -j SNAT --to-source :53\n"
           "COMMIT\n",
           ip, argv[3], ip, argv[2], ip, tcp, ip, udp);
  char *restore[] = {"iptables-restore", "--wait", "--noflush", NULL};
  /* dockerd logs a rule it could not set up and goes on: so does this */
  if (run(restore, rules, 0) != 0) fprintf(stderr, "set up rule failed, %s", rules);
  return 0;
}

int main(int argc, char **argv) {
  /* binfmt_misc with P: argv = [this program, the file executed, its argv[0], its argv[1], ...] */
  if (argc < 3) { fprintf(stderr, "dockerd-reexec: run by binfmt_misc only\n"); return 127; }
  char **args = argv + 2;
  int n = argc - 2;
  if (!strcmp(args[0], "libnetwork-setkey")) return setkey(n, args);
  if (!strcmp(args[0], "set-ipv6")) return set_ipv6(n, args);
  if (!strcmp(args[0], "setup-resolver")) return setup_resolver(n, args);
  execv(FALLBACK, args);
  fprintf(stderr, "dockerd-reexec: %s: %s\n", FALLBACK, strerror(errno));
  return 127;
}
