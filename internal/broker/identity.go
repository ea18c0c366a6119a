package broker

import "net"

// certUsernamer is implemented by TLS and secure-websocket connections of
// listeners with use_identity_as_username or use_subject_as_username
// (internal/transport): active is false when the listener takes usernames
// from CONNECT; ok is false when the client sent no usable certificate.
type certUsernamer interface {
	TLSUsername() (name string, ok, active bool)
}

// certUsername asks the connection for a username from its certificate.
func certUsername(nc net.Conn) (name string, ok, active bool) {
	if cu, is := nc.(certUsernamer); is {
		return cu.TLSUsername()
	}
	return "", false, false
}

// certAuthenticated is the security a client authenticated by its
// certificate logs in with: Mosquitto skips the password check, and the
// anonymous check with it (reference §4.2); topic access still applies.
func certAuthenticated(sec *Security) *Security {
	s := *sec
	s.AllowAnonymous = true
	if s.Auth != nil {
		s.Auth = certAuth{s.Auth}
	}
	return &s
}

// certAuth admits every login and delegates topic access.
type certAuth struct{ Auth }

func (certAuth) Login(Client, []byte, bool) bool { return true }
