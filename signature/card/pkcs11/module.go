package pkcs11

import (
	"crypto"
	"crypto/rsa"
	"fmt"
	"sync"

	p11 "github.com/miekg/pkcs11"
)

// module is a loaded and initialised PKCS#11 module, shared by the tokens
// of the process (C_Initialize once per module) and finalised when the
// last one closes.
type module struct {
	path string
	ctx  *p11.Ctx
	refs int
}

var (
	modulesMu sync.Mutex
	modules   = map[string]*module{}
)

func loadModule(path string) (*module, error) {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if m := modules[path]; m != nil {
		m.refs++
		return m, nil
	}
	ctx := p11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("%w %s: cannot be loaded (not found, or not a PKCS#11 library)", ErrModule, path)
	}
	if err := ctx.Initialize(); err != nil {
		if pe, ok := err.(p11.Error); !ok || pe != p11.CKR_CRYPTOKI_ALREADY_INITIALIZED {
			ctx.Destroy()
			return nil, fmt.Errorf("%w %s: initialise: %v", ErrModule, path, err)
		}
	}
	m := &module{path: path, ctx: ctx, refs: 1}
	modules[path] = m
	return m, nil
}

func (m *module) release() {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	m.refs--
	if m.refs > 0 {
		return
	}
	delete(modules, m.path)
	_ = m.ctx.Finalize()
	m.ctx.Destroy()
}

func isPSS(opts crypto.SignerOpts) bool {
	_, ok := opts.(*rsa.PSSOptions)
	return ok
}
