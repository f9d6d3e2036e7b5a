//! The identity rule: which tokens need an account in the demo's database.
//!
//! Tokens the demo issued (its `iss`, and it holds a signing key) name one of its users, so a
//! deleted user is refused. Tokens from another issuer (a public key, a JWKS, an OIDC provider,
//! or a secret shared with another service) name users the demo has never seen: they
//! authenticate on their verified claims alone, unless `--require-account`.

use std::sync::Arc;

use socketioxide_jwt::protocol::CustomCode;
use socketioxide_jwt::{AuthError, StandardClaims};

use crate::users::UserStore;

/// The demo's own refusal code (an application's, beside the contract's): the token names an
/// account the demo does not have (deleted, or never created).
pub const NO_ACCOUNT: CustomCode = CustomCode::new("no_account");

/// The refusal of a token whose account does not exist.
pub fn no_account() -> AuthError {
    AuthError::custom(NO_ACCOUNT, "this account no longer exists")
}

/// Decides, per token, whether a local account is required, and checks it.
#[derive(Clone)]
pub struct AccountPolicy {
    users: UserStore,
    /// The `iss` of the demo's own tokens; `None` when it issues none (verification only).
    own_issuer: Option<Arc<str>>,
    /// `--require-account`: every token needs a local account.
    require_account: bool,
}

impl AccountPolicy {
    pub fn new(users: UserStore, own_issuer: Option<&str>, require_account: bool) -> Self {
        Self {
            users,
            own_issuer: own_issuer.map(Arc::from),
            require_account,
        }
    }

    /// Whether the demo issued this (verified) token.
    pub fn issued_here(&self, claims: &StandardClaims) -> bool {
        self.own_issuer.is_some() && claims.iss.as_deref() == self.own_issuer.as_deref()
    }

    /// Whether this token's user must exist in the database.
    pub fn needs_account(&self, claims: &StandardClaims) -> bool {
        self.require_account || self.issued_here(claims)
    }

    /// Whether any token can need an account (else no check is installed at all).
    pub fn checks_anything(&self) -> bool {
        self.require_account || self.own_issuer.is_some()
    }

    /// `Ok` unless the token needs an account that does not exist ([`NO_ACCOUNT`]).
    pub async fn check(&self, claims: &StandardClaims) -> Result<(), AuthError> {
        if !self.needs_account(claims) {
            return Ok(());
        }
        let sub = claims.sub.clone().unwrap_or_default();
        match self.users.role(sub).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(no_account()),
            Err(e) => Err(AuthError::forbidden("the account could not be checked").with_source(e)),
        }
    }
}
