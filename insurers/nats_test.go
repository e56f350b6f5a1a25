package insurers

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/insurers/lot"
)

// natsWithUsers starts an embedded server configured with the directory's
// users, as the gateway's embedded server is.
func natsWithUsers(t *testing.T, d *Directory) *server.Server {
	t.Helper()
	users, err := NATSUsers(d)
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true, Nkeys: users})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// violations collects the permission violations the server reports.
type violations struct {
	mu   sync.Mutex
	errs []string
}

func (v *violations) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.errs = append(v.errs, err.Error())
}

func (v *violations) has(subject string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, e := range v.errs {
		if strings.Contains(strings.ToLower(e), "permissions violation") && strings.Contains(e, `"`+subject) {
			return true
		}
	}
	return false
}

func connect(t *testing.T, url, id string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	auth, err := NATSAuth(fixtureSeed(t, id))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, append([]nats.Option{auth}, opts...)...)
	if err != nil {
		t.Fatalf("connect as %s: %v", id, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// TestInsurerCannotReachAnotherInsurersLots connects as insurer A (cpam751)
// and tries every path to insurer B's (cpam931) lots: all are refused, and
// B's lot is still there, undelivered, afterwards. A's own path works.
func TestInsurerCannotReachAnotherInsurersLots(t *testing.T) {
	d := fixtureDirectory(t)
	s := natsWithUsers(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The gateway's side: streams, consumers, one lot for A and one for B.
	gw := connect(t, s.ClientURL(), "gateway")
	gjs, _ := jetstream.New(gw)
	if _, err := gjs.CreateStream(ctx, jetstream.StreamConfig{Name: lot.Live.Stream, Subjects: []string{lot.Live.LotPrefix + ".>"}, AllowDirect: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := gjs.CreateStream(ctx, jetstream.StreamConfig{Name: "FSE_ACKS", Subjects: []string{lot.Live.AckPrefix + ".>"}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"cpam751", "cpam931"} {
		if _, err := gjs.CreateOrUpdateConsumer(ctx, lot.Live.Stream, jetstream.ConsumerConfig{Durable: lot.Live.Consumer(id), FilterSubject: lot.Live.LotSubject(id), AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
			t.Fatal(err)
		}
		if _, err := gjs.Publish(ctx, lot.Live.LotSubject(id), []byte("lot for "+id)); err != nil {
			t.Fatal(err)
		}
	}

	v := &violations{}
	a := connect(t, s.ClientURL(), "cpam751", nats.CustomInboxPrefix(lot.InboxPrefix("cpam751")), nats.ErrorHandler(v.handler))
	ajs, _ := jetstream.New(a)

	// A's own path works: info + next on its consumer, ack, publish its acks.
	c, err := ajs.Consumer(ctx, lot.Live.Stream, lot.Live.Consumer("cpam751"))
	if err != nil {
		t.Fatalf("A reads its own consumer: %v", err)
	}
	batch, err := c.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for m := range batch.Messages() {
		got = append(got, string(m.Data()))
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatalf("A acks its lot: %v", err)
		}
	}
	if len(got) != 1 || got[0] != "lot for cpam751" {
		t.Fatalf("A fetched %q, want its own lot", got)
	}
	if _, err := ajs.Publish(ctx, lot.Live.AckSubject("cpam751"), []byte("ack")); err != nil {
		t.Fatalf("A publishes on its acks subject: %v", err)
	}

	short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 700*time.Millisecond) }
	refused := []struct {
		name    string
		subject string // the subject the server must report as a violation
		try     func() error
	}{
		{"core subscription to all lots", "fse.lots.>", func() error {
			sub, err := a.SubscribeSync("fse.lots.>")
			if err != nil {
				return err
			}
			a.Flush()
			_, err = sub.NextMsg(500 * time.Millisecond)
			return err
		}},
		{"core subscription to B's lots", "fse.lots.cpam931", func() error {
			sub, err := a.SubscribeSync("fse.lots.cpam931")
			if err != nil {
				return err
			}
			a.Flush()
			_, err = sub.NextMsg(500 * time.Millisecond)
			return err
		}},
		{"core subscription to the default inbox", "_INBOX.>", func() error {
			sub, err := a.SubscribeSync("_INBOX.>")
			if err != nil {
				return err
			}
			a.Flush()
			_, err = sub.NextMsg(500 * time.Millisecond)
			return err
		}},
		{"consumer creation on B's subject", "$JS.API.CONSUMER.CREATE.FSE_LOTS.evil.fse.lots.cpam931", func() error {
			c, cancel := short()
			defer cancel()
			_, err := ajs.CreateConsumer(c, lot.Live.Stream, jetstream.ConsumerConfig{Durable: "evil", FilterSubject: lot.Live.LotSubject("cpam931")})
			return orRefused(err)
		}},
		{"re-pointing its own consumer at B", "$JS.API.CONSUMER.CREATE.FSE_LOTS.cpam751.fse.lots.cpam931", func() error {
			c, cancel := short()
			defer cancel()
			_, err := ajs.CreateOrUpdateConsumer(c, lot.Live.Stream, jetstream.ConsumerConfig{Durable: "cpam751", FilterSubject: lot.Live.LotSubject("cpam931"), AckPolicy: jetstream.AckExplicitPolicy})
			return orRefused(err)
		}},
		{"ordered consumer on B's subject", "$JS.API.CONSUMER.CREATE.FSE_LOTS", func() error {
			c, cancel := short()
			defer cancel()
			oc, err := ajs.OrderedConsumer(c, lot.Live.Stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{lot.Live.LotSubject("cpam931")}})
			if err != nil {
				return err
			}
			_, err = oc.Next(jetstream.FetchMaxWait(700 * time.Millisecond))
			return err
		}},
		{"info of B's consumer", "$JS.API.CONSUMER.INFO.FSE_LOTS.cpam931", func() error {
			c, cancel := short()
			defer cancel()
			_, err := ajs.Consumer(c, lot.Live.Stream, "cpam931")
			return orRefused(err)
		}},
		{"next message on B's consumer", "$JS.API.CONSUMER.MSG.NEXT.FSE_LOTS.cpam931", func() error {
			_, err := a.Request("$JS.API.CONSUMER.MSG.NEXT.FSE_LOTS.cpam931", []byte(`{"batch":1,"no_wait":true}`), 700*time.Millisecond)
			return orRefused(err)
		}},
		{"direct get", "$JS.API.DIRECT.GET.FSE_LOTS", func() error {
			_, err := a.Request("$JS.API.DIRECT.GET.FSE_LOTS", []byte(`{"last_by_subj":"fse.lots.cpam931"}`), 700*time.Millisecond)
			return orRefused(err)
		}},
		{"direct get by subject", "$JS.API.DIRECT.GET.FSE_LOTS.fse.lots.cpam931", func() error {
			_, err := a.Request("$JS.API.DIRECT.GET.FSE_LOTS.fse.lots.cpam931", nil, 700*time.Millisecond)
			return orRefused(err)
		}},
		{"stream get", "$JS.API.STREAM.MSG.GET.FSE_LOTS", func() error {
			_, err := a.Request("$JS.API.STREAM.MSG.GET.FSE_LOTS", []byte(`{"last_by_subj":"fse.lots.cpam931"}`), 700*time.Millisecond)
			return orRefused(err)
		}},
		{"stream info", "$JS.API.STREAM.INFO.FSE_LOTS", func() error {
			c, cancel := short()
			defer cancel()
			_, err := ajs.Stream(c, lot.Live.Stream)
			return orRefused(err)
		}},
		{"publishing on B's acks subject", "fse.acks.cpam931", func() error {
			c, cancel := short()
			defer cancel()
			_, err := ajs.Publish(c, lot.Live.AckSubject("cpam931"), []byte("forged ack"))
			return orRefused(err)
		}},
		{"publishing a lot to B", "fse.lots.cpam931", func() error {
			c, cancel := short()
			defer cancel()
			_, err := ajs.Publish(c, lot.Live.LotSubject("cpam931"), []byte("injected"))
			return orRefused(err)
		}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.try(); err == nil {
				t.Fatalf("%s succeeded; want it refused", tt.name)
			}
			a.Flush()
			deadline := time.Now().Add(5 * time.Second)
			for !v.has(tt.subject) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if !v.has(tt.subject) {
				v.mu.Lock()
				defer v.mu.Unlock()
				t.Fatalf("no permissions violation reported for %q; got %q", tt.subject, v.errs)
			}
		})
	}

	// B's lot is still there, never delivered; no consumer was added; no
	// acknowledgement landed on B's subject.
	ci, err := gjs.Consumer(ctx, lot.Live.Stream, "cpam931")
	if err != nil {
		t.Fatal(err)
	}
	info, err := ci.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumPending != 1 || info.Delivered.Consumer != 0 {
		t.Fatalf("B's consumer: pending %d, delivered %d; want 1 pending, none delivered", info.NumPending, info.Delivered.Consumer)
	}
	if info.Config.FilterSubject != lot.Live.LotSubject("cpam931") {
		t.Fatalf("B's consumer filter changed to %q", info.Config.FilterSubject)
	}
	if ai, _ := gjs.Consumer(ctx, lot.Live.Stream, "cpam751"); ai != nil {
		if i, _ := ai.Info(ctx); i.Config.FilterSubject != lot.Live.LotSubject("cpam751") {
			t.Fatalf("A's consumer filter changed to %q", i.Config.FilterSubject)
		}
	}
	st, _ := gjs.Stream(ctx, lot.Live.Stream)
	si, _ := st.Info(ctx)
	if si.State.Consumers != 2 {
		t.Fatalf("FSE_LOTS has %d consumers, want 2", si.State.Consumers)
	}
	if si.State.Msgs != 2 {
		t.Fatalf("FSE_LOTS holds %d messages, want 2 (nothing injected)", si.State.Msgs)
	}
	acks, _ := gjs.Stream(ctx, "FSE_ACKS")
	if _, err := acks.GetLastMsgForSubject(ctx, lot.Live.AckSubject("cpam931")); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("an ack landed on B's subject: %v", err)
	}
}

// orRefused keeps any error (a refusal shows as a timeout or a permissions
// error: the server drops the request) and turns success into nil.
func orRefused(err error) error { return err }

func TestNATSUsersNeedGateway(t *testing.T) {
	d := fixtureDirectory(t)
	d.Gateway = ""
	if _, err := NATSUsers(d); err == nil {
		t.Fatal("NATSUsers without a gateway key: want an error")
	}
}
