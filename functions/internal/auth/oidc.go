package auth

import (
	"context"

	"github.com/google/uuid"
)

// OpenSession opens a session for the active operator with that id, who
// was authenticated by other means than a password: the operator-oidc
// function calls it once the municipality's identity provider has vouched
// for the operator's email. It is SignIn's last step alone, so the session
// is the same as a password sign-in's (cookie, CSRF token, lifetime), the
// failure count is reset, a lockout in force still refuses it, and the
// audit log records it (session.started, method oidc) in its transaction.
// Errors: Unauthorized (credentials: no active operator with that id),
// *LockedError (the account is locked).
func (a *Authenticator) OpenSession(ctx context.Context, operatorID string) (Session, error) {
	id, err := uuid.Parse(operatorID)
	if err != nil {
		return Session{}, badCredentials()
	}
	return a.open(ctx, id, a.Clock.Now(), MethodOIDC)
}
