import { access, chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../util/log.js';
import { run } from '../util/proc.js';

/**
 * Mutual TLS for the lab's Docker API: a CA made on this machine signs one server
 * certificate (for 127.0.0.1) and one client certificate. The lab's dockerd accepts only
 * clients holding that client certificate. Client files use Docker's names (ca.pem,
 * cert.pem, key.pem) so DOCKER_CERT_PATH can point at this directory.
 */
export const TLS_FILES = {
  ca: 'ca.pem',
  clientCert: 'cert.pem',
  clientKey: 'key.pem',
  serverCert: 'server-cert.pem',
  serverKey: 'server-key.pem',
} as const;

export async function tlsComplete(dir: string): Promise<boolean> {
  try {
    for (const f of Object.values(TLS_FILES)) await access(path.join(dir, f));
    return true;
  } catch {
    return false;
  }
}

export async function ensureTls(dir: string, log: Logger): Promise<string> {
  if (await tlsComplete(dir)) return dir;
  log(`generating lab credentials in ${dir}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const o = (...a: string[]) => run(['openssl', ...a], { cwd: dir, pkg: 'openssl' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await o('req', '-x509', ...ec, '-keyout', 'ca-key.pem', '-out', TLS_FILES.ca, '-days', '3650', '-subj', '/CN=lvs-harness lab CA');
  const sign = async (name: string, cn: string, keyOut: string, certOut: string, ext: string) => {
    await o('req', ...ec, '-keyout', keyOut, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    await writeFile(path.join(dir, `${name}.ext`), ext);
    await o('x509', '-req', '-in', `${name}.csr`, '-CA', TLS_FILES.ca, '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', certOut, '-days', '3650', '-extfile', `${name}.ext`);
    await rm(path.join(dir, `${name}.csr`));
    await rm(path.join(dir, `${name}.ext`));
  };
  await sign('server', 'localhost', TLS_FILES.serverKey, TLS_FILES.serverCert, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await sign('client', 'lvs-harness', TLS_FILES.clientKey, TLS_FILES.clientCert, 'extendedKeyUsage=clientAuth\n');
  for (const k of ['ca-key.pem', TLS_FILES.clientKey, TLS_FILES.serverKey]) await chmod(path.join(dir, k), 0o600);
  return dir;
}
