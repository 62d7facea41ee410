import { calculateJwkThumbprint, exportJWK, generateKeyPair, importPKCS8, type JWK } from 'jose';

export type SigningAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

export interface GeneratedSigningKey {
  kid: string;
  algorithm: SigningAlgorithm;
  publicJwk: JWK;
  privateJwk: JWK;
}

async function fromPrivateKey(
  privateKey: CryptoKey,
  algorithm: SigningAlgorithm,
): Promise<GeneratedSigningKey> {
  const privateJwk = await exportJWK(privateKey);
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, ...pub } = privateJwk;
  const kid = await calculateJwkThumbprint(pub);
  const publicJwk: JWK = { ...pub, kid, alg: algorithm, use: 'sig' };
  return { kid, algorithm, publicJwk, privateJwk: { ...privateJwk, kid, alg: algorithm } };
}

/** A fresh key pair; `kid` is its RFC 7638 thumbprint. RSA keys are 2048-bit. */
export async function generateSigningKey(
  algorithm: SigningAlgorithm,
): Promise<GeneratedSigningKey> {
  const { privateKey } = await generateKeyPair(algorithm, {
    extractable: true,
    ...(algorithm === 'RS256' ? { modulusLength: 2048 } : {}),
    ...(algorithm === 'EdDSA' ? { crv: 'Ed25519' } : {}),
  });
  return fromPrivateKey(privateKey, algorithm);
}

/** A configured PKCS#8 PEM private key in the same shape as a generated one. */
export async function signingKeyFromPem(
  pem: string,
  algorithm: SigningAlgorithm,
): Promise<GeneratedSigningKey> {
  return fromPrivateKey(await importPKCS8(pem, algorithm, { extractable: true }), algorithm);
}
