// Certificates for a test's HTTPS peers, made with the openssl CLI: a CA of the test's own
// and a server certificate for one IP address signed by it. The server under test trusts
// the CA through SSL_CERT_FILE or CURL_CA_BUNDLE in its environment.

import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

/** Makes them in `dir`. Returns {caFile, keyFile, certFile, key, cert}. */
export function makeCertificates(dir, ip = '127.0.0.1') {
  const run = (args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
    '-subj', '/CN=toolregistry test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  run(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${ip}`]);
  fs.writeFileSync(path.join(dir, 'server.ext'),
    `subjectAltName=IP:${ip}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext']);
  const keyFile = path.join(dir, 'server.key');
  const certFile = path.join(dir, 'server.pem');
  return {
    caFile: path.join(dir, 'ca.pem'), keyFile, certFile,
    key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile),
  };
}
