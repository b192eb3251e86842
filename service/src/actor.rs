//! Who is acting: the authenticated user, their role, and the credential
//! they came with (a login's bearer token, or an API key and its scopes).

pub use entity::user::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// The authenticated caller, rebuilt from the database on every request so a
/// disabled account, a changed role or a revoked key takes effect at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Uuid,
    /// The account's role. What the caller may do as an admin also depends
    /// on the credential: see [`Actor::is_admin`].
    pub role: Role,
    /// As typed at registration; for responses that show the caller's name
    /// (a new post's `author_username`), without another query.
    pub username: String,
    /// How the caller authenticated.
    pub credential: Credential,
}

impl Actor {
    /// True for an admin acting with admin powers: with a login token, or
    /// with an API key that has the `admin` scope. An admin's key without
    /// that scope acts as a plain user (docs/accounts.md#api-keys).
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin && self.credential.grants(Scope::Admin)
    }
}

/// The credential a request authenticated with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// A bearer access token from a login (or a refresh): everything the
    /// account may do.
    Login,
    /// An API key (`X-API-Key`): what the account may do, within the key's
    /// scopes.
    ApiKey {
        /// The key's id.
        id: Uuid,
        /// What the key was given.
        scopes: Scopes,
    },
}

impl Credential {
    /// Does this credential allow what `scope` names? A login allows
    /// everything; a key what its scopes grant ([`Scopes::grants`]).
    pub fn grants(&self, scope: Scope) -> bool {
        match self {
            Self::Login => true,
            Self::ApiKey { scopes, .. } => scopes.grants(scope),
        }
    }
}

/// What an API key may do (docs/accounts.md#scopes).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Safe methods: `GET` and `HEAD`.
    Read,
    /// Every method; includes `read`.
    Write,
    /// What only admins may do; only an admin may grant it, and it adds to
    /// `read` or `write` rather than standing alone.
    Admin,
}

impl Scope {
    /// Every scope, in the order they are listed and stored.
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Admin];

    /// The scope's name as clients write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Self::Read => 1,
            Self::Write => 2,
            Self::Admin => 4,
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes, as a key holds them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scopes(u8);

impl Scopes {
    /// Whether `scope` was given, as such.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Whether the set allows what `scope` names: `write` includes `read`.
    pub fn grants(self, scope: Scope) -> bool {
        self.contains(scope) || (scope == Scope::Read && self.contains(Scope::Write))
    }

    /// The scopes given, in [`Scope::ALL`]'s order, without repeats.
    pub fn to_vec(self) -> Vec<Scope> {
        Scope::ALL
            .into_iter()
            .filter(|s| self.contains(*s))
            .collect()
    }

    /// The stored form: names separated by single spaces, in order
    /// (`read write`).
    pub fn to_stored(self) -> String {
        self.to_vec()
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Reads [`Scopes::to_stored`]'s form; an unknown name is `None` (a bug
    /// or a row written by a newer version: such a key grants nothing).
    pub fn from_stored(stored: &str) -> Option<Self> {
        stored
            .split_whitespace()
            .try_fold(Self::default(), |set, name| {
                let scope = Scope::ALL.into_iter().find(|s| s.as_str() == name)?;
                Some(set.with(scope))
            })
    }

    /// This set and `scope`.
    pub fn with(self, scope: Scope) -> Self {
        Self(self.0 | scope.bit())
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        iter.into_iter().fold(Self::default(), Self::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_includes_read_and_admin_stands_apart() {
        let write: Scopes = [Scope::Write].into_iter().collect();
        assert!(write.grants(Scope::Read) && write.grants(Scope::Write));
        assert!(!write.grants(Scope::Admin));
        let read: Scopes = [Scope::Read, Scope::Read].into_iter().collect();
        assert!(read.grants(Scope::Read) && !read.grants(Scope::Write));
        let all: Scopes = Scope::ALL.into_iter().rev().collect();
        assert_eq!(all.to_stored(), "read write admin");
        assert_eq!(Scopes::from_stored("read write admin"), Some(all));
        assert_eq!(Scopes::from_stored("read owner"), None);
    }

    #[test]
    fn an_admin_key_without_the_admin_scope_is_no_admin() {
        let actor = |credential| Actor {
            user_id: Uuid::now_v7(),
            role: Role::Admin,
            username: "root".into(),
            credential,
        };
        assert!(actor(Credential::Login).is_admin());
        let id = Uuid::now_v7();
        let scopes: Scopes = [Scope::Write].into_iter().collect();
        assert!(!actor(Credential::ApiKey { id, scopes }).is_admin());
        let scopes = scopes.with(Scope::Admin);
        assert!(actor(Credential::ApiKey { id, scopes }).is_admin());
    }
}
