/** The token of an `Authorization: Bearer <token>` header value, else null (HTTP requests and /metrics scrapes alike). */
export function bearerToken(header: string | null | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match ? match[1]! : null;
}
