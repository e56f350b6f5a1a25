package psc

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"path"
	"sort"
	"time"

	"gopkg.in/yaml.v3"
)

// ProfileUsers are the professionals of the virtual cards' profiles at the
// root of fsys (*.yaml, as fixtures/cards: fixtures/dev.PSCUsers reads
// those) with their PIN as e-CPS code. Profiles of an untrusted CA
// (impostor) and blocked cards are left out.
func ProfileUsers(fsys fs.FS) ([]User, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var users []User
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		var p struct {
			Name       string `yaml:"name"`
			NationalID string `yaml:"national_id"`
			Surname    string `yaml:"surname"`
			GivenName  string `yaml:"given_name"`
			Profession string `yaml:"profession"`
			PIN        string `yaml:"pin"`
			Blocked    bool   `yaml:"blocked"`
		}
		if err := yaml.Unmarshal(b, &p); err != nil {
			return nil, err
		}
		if p.NationalID == "" || p.Blocked || p.Name == "impostor" || path.Base(n) == "impostor.yaml" {
			continue
		}
		users = append(users, User{NationalID: p.NationalID, GivenName: p.GivenName, FamilyName: p.Surname, Profession: p.Profession, Code: p.PIN})
	}
	if len(users) == 0 {
		return nil, errors.New("psc: no card profile")
	}
	return users, nil
}

// Server is a Provider on its own listener.
type Server struct {
	*Provider
	srv *http.Server
	ln  net.Listener
}

// Start listens on addr (e.g. "127.0.0.1:0"), sets the issuer to
// "http://<address>" unless cfg.Issuer is set, and serves until ctx ends
// or Close.
func Start(ctx context.Context, addr string, cfg Config) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "http://" + ln.Addr().String()
	}
	p, err := New(cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	s := &Server{Provider: p, ln: ln, srv: &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = s.srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		s.Close()
	}()
	return s, nil
}

// Addr is the listener's address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }
