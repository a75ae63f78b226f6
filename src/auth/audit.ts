/**
 * The audit log: one AuditEvent row per security-relevant event, and one
 * log line (info, or warn for what may be an attack). Any domain may record
 * one through `recordAudit`; admins read them with `auditLog`.
 */
import type { Database } from '../adapters/database.ts';
import type { Logger } from '../core/logger.ts';
import type { AnomalyWatch } from './anomalies.ts';

/** The kinds this project writes (AuditEvent.kind). Others may add theirs. */
export type AuditKind =
  | 'register'
  | 'login'
  | 'login_failed'
  | 'logout'
  | 'refresh'
  | 'refresh_reuse'
  | 'session_replaced'
  | 'revoked'
  | 'roles_changed'
  | 'user_deleted'
  | 'rate_limited'
  | 'admin_bootstrap'
  // Two-factor sign-in (src/auth/second-factor.ts).
  | 'second_factor_enrolled'
  | 'second_factor_disabled'
  | 'second_factor_passed'
  | 'second_factor_failed'
  | 'second_factor_recovery_used'
  | (string & {});

export interface AuditInput {
  kind: AuditKind;
  /** The user the event is about, when there is one that exists. */
  userId?: string | null;
  /** The caller's address. */
  ip?: string | null;
  /** A small object of facts; never a password, token or cookie. */
  detail?: Record<string, string | number | boolean | null | string[]>;
  /** The request (HTTP) or connection (WebSocket) it happened in, for the log line. @default none */
  requestId?: string | null;
}

/**
 * Kinds that say something may be wrong, logged at warn: a stolen refresh token, or a wrong second factor (which
 * at sign-in comes after a right password: someone else may know it); the rest is normal traffic, at info.
 */
const warnKinds = new Set<AuditKind>(['refresh_reuse', 'second_factor_failed']);

/**
 * Writes one audit event. A failed write is logged, not thrown: the audit
 * trail must not turn the outcome the caller gets into a server error.
 */
export async function recordAudit(deps: { db: Database; logger: Logger; anomalies?: AnomalyWatch }, event: AuditInput): Promise<void> {
  deps.anomalies?.noted(event);
  // Every auth event is also a log line, so that the live server log (serverLog) shows sign-ins, refusals and
  // revocations as they happen. The detail holds no secret (see AuditInput); the logger redacts by name anyway.
  const line = { audit: event.kind, userId: event.userId ?? null, ip: event.ip ?? null, ...(event.requestId ? { requestId: event.requestId } : {}), detail: event.detail };
  if (warnKinds.has(event.kind)) deps.logger.warn(line, `auth: ${event.kind}`);
  else deps.logger.info(line, `auth: ${event.kind}`);
  try {
    await deps.db.auditEvent.create({
      data: { kind: event.kind, userId: event.userId ?? null, ip: event.ip ?? null, detail: event.detail ?? undefined },
    });
  } catch (error) {
    deps.logger.error({ err: String(error), kind: event.kind }, 'could not write audit event');
  }
}
