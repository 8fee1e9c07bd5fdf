import { createSecretKey, KeyObject } from "node:crypto";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { BoundedMap } from "../common/bounded-map";
import { formatDuration } from "../config/duration";
import { AuthenticationError } from "../common/errors";
import type { AuthConfig } from "../config";
import { Principal, Role, ROLE_CLAIMS } from "./principal";

/** Longest `sub` and `wid` a token may carry, the same bound as every id in the service. */
export const MAX_ID_LENGTH = 128;
const MAX_NAME_LENGTH = 255;
const ALGORITHM = "HS256";
/** Verified tokens remembered, so that a client's next request skips the signature check. */
const VERIFIED_TOKENS_KEPT = 10_000;
/** How far ahead of this service's clock a token's `iat` may be, for the issuer's clock. */
const MAX_CLOCK_SKEW_SECONDS = 60;

/** Verifies bearer tokens (HS256) and turns their claims into a {@link Principal}. */
export class TokenVerifier {
  private readonly key: KeyObject;
  /**
   * Tokens that passed every check, by their exact text, oldest first. A
   * token's claims cannot change without its signature changing, so only
   * expiry needs checking again.
   */
  private readonly verified = new BoundedMap<string, Principal>(VERIFIED_TOKENS_KEPT);

  constructor(private readonly auth: AuthConfig) {
    this.key = createSecretKey(Buffer.from(auth.jwtSecret, "utf8"));
  }

  /**
   * Accepts `Bearer <jwt>` or the bare token. Any failure is an
   * {@link AuthenticationError}. Only a token whose signature holds says why
   * it is refused (expired, issued in the future, too long a lifetime): those
   * are the failures its issuer can fix, and a forger learns nothing.
   */
  async verify(credential: string | undefined | null): Promise<Principal> {
    const token = stripBearer(credential);
    if (!token) throw new AuthenticationError("A bearer token is required.");
    const known = this.verified.get(token);
    if (known && TokenVerifier.isCurrent(known)) return known;
    if (known) this.verified.delete(token);
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM],
        issuer: this.auth.jwtIssuer,
        audience: this.auth.jwtAudience,
        requiredClaims: ["exp", "sub"],
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new AuthenticationError("The token has expired.");
      throw new AuthenticationError("The token is invalid.");
    }
    const principal = Object.freeze(this.principalFromClaims(payload, Date.now() / 1000));
    this.verified.set(token, principal);
    return principal;
  }

  /** True while the principal's token has not expired. */
  static isCurrent(principal: Principal, now = Date.now()): boolean {
    return principal.expiresAt > now;
  }

  /**
   * The principal a signed token names, once its claims pass. A lifetime is
   * `exp - iat`, or `exp - now` without `iat`. Both are checked only when the
   * token is first verified: neither grows while it is remembered.
   */
  private principalFromClaims(payload: Record<string, unknown>, nowSeconds: number): Principal {
    const { sub, wid, role, name, exp, iat } = payload;
    const invalid = () => new AuthenticationError("The token is invalid.");
    if (!isTokenId(sub) || !isTokenId(wid) || typeof exp !== "number") throw invalid();
    if (typeof role !== "string" || !Object.hasOwn(ROLE_CLAIMS, role)) throw invalid();
    if (name !== undefined && (typeof name !== "string" || name.length > MAX_NAME_LENGTH)) throw invalid();
    // jose has already refused an `iat` that is not a number.
    const issuedAt = typeof iat === "number" ? iat : undefined;
    if (issuedAt !== undefined && issuedAt > nowSeconds + MAX_CLOCK_SKEW_SECONDS) {
      throw new AuthenticationError("The token was issued in the future (iat): check the issuer's clock.");
    }
    const maxLifetime = maxLifetimeSeconds(this.auth, ROLE_CLAIMS[role]);
    if (exp - (issuedAt ?? nowSeconds) > maxLifetime) {
      throw new AuthenticationError(`The token's lifetime is over the ${formatDuration(maxLifetime)} this service accepts for its role.`);
    }
    return {
      userId: sub,
      workspaceId: wid,
      role: ROLE_CLAIMS[role],
      ...(name ? { name } : {}),
      expiresAt: exp * 1000,
    };
  }
}

/** The longest lifetime the configuration allows a token of this role. */
export function maxLifetimeSeconds(auth: AuthConfig, role: Role): number {
  return role === Role.SERVICE ? auth.maxLifetimeSeconds.service : auth.maxLifetimeSeconds.user;
}

export interface TokenClaims {
  userId: string;
  workspaceId: string;
  role: Role;
  name?: string;
  /** Lifetime in seconds. @default 3600 */
  ttlSeconds?: number;
}

/** Signs a token with the configured secret, issuer and audience. */
export async function signToken(auth: AuthConfig, claims: TokenClaims): Promise<string> {
  const roleClaim = Object.keys(ROLE_CLAIMS).find((claim) => ROLE_CLAIMS[claim] === claims.role);
  // One reading of the clock: `exp - iat` is exactly the lifetime asked for, which may be the maximum.
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ wid: claims.workspaceId, role: roleClaim, ...(claims.name ? { name: claims.name } : {}) })
    .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
    .setSubject(claims.userId)
    .setIssuedAt(now)
    .setExpirationTime(now + (claims.ttlSeconds ?? 3600));
  if (auth.jwtIssuer) jwt.setIssuer(auth.jwtIssuer);
  if (auth.jwtAudience) jwt.setAudience(auth.jwtAudience);
  return jwt.sign(new TextEncoder().encode(auth.jwtSecret));
}

function stripBearer(credential: string | undefined | null): string | undefined {
  if (typeof credential !== "string") return undefined;
  const trimmed = credential.trim();
  const match = /^Bearer\s+(.+)$/i.exec(trimmed);
  const token = match ? match[1].trim() : trimmed;
  return token === "" ? undefined : token;
}

/**
 * Ids compare byte for byte everywhere, so `"A "` is not workspace `"A"`. An
 * id with leading or trailing whitespace, a control character or a lone
 * surrogate is a mistake or a probe, never an id a platform issued.
 */
const NOT_AN_ID = /^\s|\s$|[\p{Cc}\p{Cs}]/u;

/** Whether a `sub` or `wid` claim is one this service accepts. */
export function isTokenId(value: unknown): value is string {
  return typeof value === "string" && value !== "" && value.length <= MAX_ID_LENGTH && !NOT_AN_ID.test(value);
}
