/**
 * Where Switchboard goes past a library's public API (README: "Where we go
 * past a library's public API"): one module per library, each with a
 * fallback to the public API, and this start-up check that names what an
 * upgrade took away.
 */
import { problems as ioredisProblems } from './ioredis.ts';
import { problems as wsProblems } from './ws.ts';

/** Every private part that is missing from the installed libraries (empty when all are there). */
export const libraryInternalsMissing = (): string[] => [...wsProblems(), ...ioredisProblems()];
