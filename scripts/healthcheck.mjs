// Docker HEALTHCHECK: exit 0 when GET /healthz on this container answers 200
// (over https when TLS_CERT is set; the certificate is not checked on loopback).
import http from 'node:http';
import https from 'node:https';

const secure = Boolean(process.env.TLS_CERT);
const request = (secure ? https : http).get(
  { host: '127.0.0.1', port: Number(process.env.PORT || 4000), path: '/healthz', rejectUnauthorized: false, timeout: 3000 },
  (response) => process.exit(response.statusCode === 200 ? 0 : 1),
);
request.on('timeout', () => request.destroy(new Error('timeout')));
request.on('error', () => process.exit(1));
