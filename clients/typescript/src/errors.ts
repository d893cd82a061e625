import { Code, ConnectError } from "@connectrpc/connect";

/** Every failed call rejects with a subclass of MciasError. */
export class MciasError extends Error {
  /** The gRPC code name, for example `ALREADY_EXISTS`. */
  readonly code: string;
  /** The server's message. */
  readonly serverMessage: string;

  constructor(code: string, message: string) {
    super(`${code}: ${message}`);
    this.name = new.target.name;
    this.code = code;
    this.serverMessage = message;
  }
}

/** No token, an invalid or revoked token, or a failed login. */
export class Unauthenticated extends MciasError {}
/** The token lacks the permission the call requires. */
export class PermissionDenied extends MciasError {}
/** The named account, token or credentials do not exist. */
export class NotFound extends MciasError {}
/** The request was refused as malformed. */
export class InvalidArgument extends MciasError {}
/** The account (username) already exists. */
export class AlreadyExists extends MciasError {}
/** Too many requests (RESOURCE_EXHAUSTED); retry later. */
export class RateLimited extends MciasError {}
/** The server cannot be reached or is shutting down. */
export class Unavailable extends MciasError {}
/** Any other failure (FAILED_PRECONDITION, INTERNAL, ...). */
export class ServerError extends MciasError {}

const codeNames: Record<Code, string> = {
  [Code.Canceled]: "CANCELLED",
  [Code.Unknown]: "UNKNOWN",
  [Code.InvalidArgument]: "INVALID_ARGUMENT",
  [Code.DeadlineExceeded]: "DEADLINE_EXCEEDED",
  [Code.NotFound]: "NOT_FOUND",
  [Code.AlreadyExists]: "ALREADY_EXISTS",
  [Code.PermissionDenied]: "PERMISSION_DENIED",
  [Code.ResourceExhausted]: "RESOURCE_EXHAUSTED",
  [Code.FailedPrecondition]: "FAILED_PRECONDITION",
  [Code.Aborted]: "ABORTED",
  [Code.OutOfRange]: "OUT_OF_RANGE",
  [Code.Unimplemented]: "UNIMPLEMENTED",
  [Code.Internal]: "INTERNAL",
  [Code.Unavailable]: "UNAVAILABLE",
  [Code.DataLoss]: "DATA_LOSS",
  [Code.Unauthenticated]: "UNAUTHENTICATED",
};

const classes: Partial<Record<Code, new (code: string, message: string) => MciasError>> = {
  [Code.Unauthenticated]: Unauthenticated,
  [Code.PermissionDenied]: PermissionDenied,
  [Code.NotFound]: NotFound,
  [Code.InvalidArgument]: InvalidArgument,
  [Code.AlreadyExists]: AlreadyExists,
  [Code.ResourceExhausted]: RateLimited,
  [Code.Unavailable]: Unavailable,
};

/** Maps any rejection of a generated client to its MciasError class. */
export function toMciasError(err: unknown): MciasError {
  if (err instanceof MciasError) return err;
  const ce = ConnectError.from(err);
  const Cls = classes[ce.code] ?? ServerError;
  return new Cls(codeNames[ce.code] ?? `CODE_${ce.code}`, ce.rawMessage);
}
