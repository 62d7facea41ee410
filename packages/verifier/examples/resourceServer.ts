// A resource server (plain node:http) that accepts Gatehouse access tokens and API keys.
import { createServer } from 'node:http';
import { createVerifier, isVerifierError } from '@gatehouse/verifier';
import { credentials } from '@grpc/grpc-js';

const verifier = createVerifier({
  target: process.env.GATEHOUSE_TARGET ?? '127.0.0.1:50051',
  credentials: {
    // A service account key whose role grants revocations:watch.
    apiKey: process.env.GATEHOUSE_API_KEY ?? '',
    // TLS is the default; a local Gatehouse without TLS needs this.
    channel: credentials.createInsecure(),
  },
  onStreamStatus: (s) => console.error(`revocation stream ${s.state}`),
});
await verifier.ready();

const server = createServer(async (req, res) => {
  const header = req.headers.authorization ?? '';
  const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
  try {
    const who = await verifier.verify(token);
    const body =
      who.kind === 'user'
        ? { user: who.userId, session: who.sessionId, roles: who.roles }
        : { apiKey: who.apiKeyId, roles: who.roles };
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  } catch (error) {
    if (!isVerifierError(error)) throw error;
    // Gatehouse unreachable for too long: "try later", not "who are you".
    const unavailable = error.code === 'STREAM_UNAVAILABLE' || error.code === 'UNAVAILABLE';
    res.statusCode = unavailable ? 503 : 401;
    res.end(error.code);
  }
});
server.listen(Number(process.env.PORT ?? 8080));

process.on('SIGTERM', () => {
  server.close();
  verifier.close();
});
