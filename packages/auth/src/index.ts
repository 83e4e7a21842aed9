export { MIN_SECRET_LENGTH, type JwtAlgorithm } from "./algorithms";
export { AuthConfigError, AuthError, type AuthFailureReason } from "./auth-error";
export { RevocationStore, type RevocationChecker, type RevocationStoreOptions } from "./revocation-store";
export { tokenClaimsSchema, type TokenClaims } from "./token-claims";
export { createTokenIssuer, issuerOptionsFromConfig, type IssuedToken, type IssueInput, type TokenIssuer, type TokenIssuerOptions } from "./token-issuer";
export { createTokenVerifier, fromConfig, type TokenVerifier, type TokenVerifierOptions } from "./token-verifier";
