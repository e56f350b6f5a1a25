package insurers

import (
	"bytes"
	"fmt"
	"os"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/fsegate/fsegate/insurers/lot"
)

// NATSUsers builds the nkey users of the embedded nats-server from the
// directory: the gateway's own user (d.Gateway, full access) and one user
// per insurer with exactly the permissions of lot.InsurerPermissions on the
// live wire and the conformance wire. Pass the result as
// queue.EmbeddedConfig.Users.
func NATSUsers(d *Directory) ([]*server.NkeyUser, error) {
	if d.Gateway == "" {
		return nil, fmt.Errorf("nats users: the directory names no gateway_nkey (the gateway would lock itself out)")
	}
	users := []*server.NkeyUser{{Nkey: d.Gateway}}
	for _, in := range d.Insurers {
		p := lot.InsurerPermissions(in.ID, lot.Live, lot.Conformance)
		users = append(users, &server.NkeyUser{
			Nkey: in.NKey,
			Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: p.Publish},
				Subscribe: &server.SubjectPermission{Allow: p.Subscribe},
			},
		})
	}
	return users, nil
}

// NATSAuth is the client option that authenticates with an nkey seed (the
// content of a fixtures/nkeys/<id>.nk file).
func NATSAuth(seed []byte) (nats.Option, error) {
	kp, err := nkeys.FromSeed(bytes.TrimSpace(seed))
	if err != nil {
		return nil, fmt.Errorf("nkey seed: %w", err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("nkey seed: %w", err)
	}
	return nats.Nkey(pub, kp.Sign), nil
}

// PublicKey gives the public key of an nkey seed.
func PublicKey(seed []byte) (string, error) {
	kp, err := nkeys.FromSeed(bytes.TrimSpace(seed))
	if err != nil {
		return "", fmt.Errorf("nkey seed: %w", err)
	}
	return kp.PublicKey()
}

// ReadSeed reads an nkey seed file.
func ReadSeed(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nkey: %w", err)
	}
	if _, err := nkeys.FromSeed(bytes.TrimSpace(b)); err != nil {
		return nil, fmt.Errorf("nkey %s: not a seed: %w", path, err)
	}
	return bytes.TrimSpace(b), nil
}

func validUserKey(k string) bool {
	return nkeys.IsValidPublicUserKey(k)
}
