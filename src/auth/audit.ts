/**
 * The audit log: one AuditEvent row per security-relevant event. Any domain
 * may record one through `recordAudit`; admins read them with `auditLog`.
 */
import type { Database } from '../infra/database.ts';
import type { Logger } from '../infra/logger.ts';

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
  | (string & {});

export interface AuditInput {
  kind: AuditKind;
  /** The user the event is about, when there is one that exists. */
  userId?: string | null;
  /** The caller's address. */
  ip?: string | null;
  /** A small object of facts; never a password, token or cookie. */
  detail?: Record<string, string | number | boolean | null | string[]>;
}

/**
 * Writes one audit event. A failed write is logged, not thrown: the audit
 * trail must not turn the outcome the caller gets into a server error.
 */
export async function recordAudit(deps: { db: Database; logger: Logger }, event: AuditInput): Promise<void> {
  try {
    await deps.db.auditEvent.create({
      data: { kind: event.kind, userId: event.userId ?? null, ip: event.ip ?? null, detail: event.detail ?? undefined },
    });
  } catch (error) {
    deps.logger.error({ err: String(error), kind: event.kind }, 'could not write audit event');
  }
}
