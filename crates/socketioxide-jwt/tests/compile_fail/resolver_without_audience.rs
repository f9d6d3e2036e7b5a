// A key resolver (JWKS, OIDC) signs the tokens of every client of the provider: it takes the
// audience this application's tokens carry (was `ConfigError::ResolverWithoutAudience`).
use socketioxide_jwt::{keys::Keys, JwtAuth, StandardClaims};

fn resolver() -> impl socketioxide_jwt::keys::KeyResolver {
    struct Nothing;
    impl socketioxide_jwt::keys::KeyResolver for Nothing {
        fn resolve<'a>(
            &'a self,
            _: &'a socketioxide_jwt::jsonwebtoken::Header,
        ) -> socketioxide_jwt::BoxFuture<
            'a,
            Result<std::sync::Arc<socketioxide_jwt::VerificationKey>, socketioxide_jwt::AuthError>,
        > {
            unimplemented!()
        }
    }
    Nothing
}

fn main() {
    let _ = JwtAuth::<StandardClaims>::builder(Keys::resolver(resolver()));
}
