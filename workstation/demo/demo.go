package demo

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/gateway/practices"
	"github.com/fsegate/fsegate/signature"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/workstation/rxday"
)

// Config is one demo run.
type Config struct {
	Client *client.Client // connected with the card's TLS certificate
	Card   card.Token     // either backend; PIN prompt set, or PIN already verified
	// Practices gives the card holder's billing practitioner; Tariffs
	// (NGAP) price the generated sheets (the fixtures' in development:
	// fixtures/dev.Practices, dev.Tariffs).
	Practices *practices.Directory
	Tariffs   *fse.Tariffs
	// Prescriber and Generics make a pharmacist's day (rxday.NewDay; the
	// fixtures' test doctor and generics.csv: dev.Prescriber, dev.Generics).
	Prescriber rxday.Prescriber
	Generics   []byte
	Count      int    // sheets to send (20 by default)
	Seed       uint64 // generator seed
	// First is the number of the first sheet; 0 takes it from the clock,
	// so that runs against the same gateway never collide (#22).
	First int
	Now   func() time.Time
	Out   io.Writer
	// Wait bounds how long to follow notices for final states (2 min by default).
	Wait time.Duration
}

// Summary counts what happened.
type Summary struct {
	Sent, Receipted, Refused int
	Accepted, Rejected, Paid int // per destination (insurer), not per sheet
	Failed                   int // delivery_failed or returns_overdue
	Final                    int // sheets whose every destination is final
	PaidCents                int64
	Notices                  int
	SCOR, SCORAcked          int      // SCOR pieces sent, acknowledged by their ARL
	Missing                  []string // receipted sheets not final when the wait ended
	// Transfers are the bank transfers that paid this run's sheets
	// (GET /v1/payments); TransferCents their totals.
	Transfers     []client.Transfer
	TransferCents int64
}

func (s *Summary) String() string {
	// The answers are counted per insurer: a sheet under tiers payant has
	// two (the régime obligatoire and the complémentaire).
	out := fmt.Sprintf("sent %d, receipted %d, refused %d; final %d; insurers' answers: accepted %d, rejected %d, paid %d (%s), failed %d; %d transfers (%s); %d notices",
		s.Sent, s.Receipted, s.Refused, s.Final, s.Accepted, s.Rejected, s.Paid, client.Euros(s.PaidCents), s.Failed, len(s.Transfers), client.Euros(s.TransferCents), s.Notices)
	if s.SCOR > 0 {
		out += fmt.Sprintf("; SCOR pieces sent %d, acknowledged %d", s.SCOR, s.SCORAcked)
	}
	return out
}

// Run does the journey.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if cfg.Count <= 0 {
		cfg.Count = 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Wait == 0 {
		cfg.Wait = 2 * time.Minute
	}
	out := cfg.Out
	info, err := cfg.Card.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read card: %w", err)
	}
	if cfg.Practices == nil || cfg.Tariffs == nil {
		return nil, errors.New("demo: no practices directory or no tariffs")
	}
	prac, err := cfg.Practices.SheetPractitioner(info.Holder.NationalID, time.Now())
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "card: %s %s (%s, %s) in %q, billing number %s\n", info.Holder.GivenName, info.Holder.Surname, info.Holder.ProfessionLabel, info.Holder.NationalID, info.Reader, prac.Billing)
	tariffs := cfg.Tariffs
	key, err := cfg.Card.SigningKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("signature key: %w", err)
	}
	chain := []*x509.Certificate{key.Certificate()}

	now := cfg.Now()
	r := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	base := cfg.First
	if base <= 0 {
		base = int(now.Unix()%9000000)*100 + 1 // distinct numbers across runs
	}
	sum := &Summary{}
	pending := map[string]bool{}
	sent := map[string]bool{} // receipted numbers: whose transfers the summary shows
	var day *rxday.Day
	if prac.Profession == fse.ProfessionPharmacist {
		// A pharmacy's day: carried prescriptions (sent first), national
		// numbers, paper with their scans (sent after their sheets).
		if day, err = rxday.NewDay(now, r, uint64(base), cfg.Prescriber, bytes.NewReader(cfg.Generics)); err != nil {
			return nil, err
		}
	}
	for i := range cfg.Count {
		s, err := fse.Generate(r, fse.GenerateOptions{Now: now, Practitioners: []fse.Practitioner{prac}, Tariffs: tariffs, Number: base + i})
		if err != nil {
			return nil, fmt.Errorf("generate sheet %d: %w", i+1, err)
		}
		var extra rxday.Extra
		if day != nil {
			if extra, err = day.Attach(ctx, s, i); err != nil {
				return nil, fmt.Errorf("prescription of sheet %d: %w", i+1, err)
			}
		}
		if extra.Prescription != nil {
			if _, err := cfg.Client.SendPrescription(ctx, extra.Prescription); err != nil {
				return sum, fmt.Errorf("send prescription %s: %w", extra.PrescriptionID, err)
			}
			fmt.Fprintf(out, "prescription %s  signed by the prescriber, carried to the gateway\n", extra.PrescriptionID)
		}
		signed, err := signature.SignOptions{Now: cfg.Now}.Sign(ctx, s.Encode(), key, chain)
		if err != nil {
			return nil, fmt.Errorf("sign sheet %s: %w", s.Number, err)
		}
		sum.Sent++
		rc, err := cfg.Client.SendSheet(ctx, signed)
		var p *client.Problem
		switch {
		case errors.As(err, &p):
			sum.Refused++
			fmt.Fprintf(out, "sheet %s  refused: %v\n", s.Number, p.Codes())
			continue
		case err != nil:
			return sum, fmt.Errorf("send sheet %s: %w", s.Number, err)
		}
		sum.Receipted++
		pending[s.Number] = true
		sent[s.Number] = true
		dest := ""
		for _, d := range rc.Destinations {
			dest += fmt.Sprintf(" %s (lot closes by %s)", d.Insurer, d.CloseBy.Local().Format("15:04:05"))
		}
		fmt.Fprintf(out, "sheet %s  signed and sent, receipt: %s →%s\n", s.Number, rc.State, dest)
		if extra.Scan != nil {
			if _, err := cfg.Client.SendSCOR(ctx, prac.Billing, s.Number, extra.Scan); err != nil {
				return sum, fmt.Errorf("SCOR piece of sheet %s: %w", s.Number, err)
			}
			sum.SCOR++
			fmt.Fprintf(out, "sheet %s  SCOR piece (scanned paper prescription) sent\n", s.Number)
		}
	}

	// Follow the notices until every receipted sheet is final.
	deadline := time.Now().Add(cfg.Wait)
	for len(pending) > 0 && time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		ns, err := cfg.Client.Notices(ctx, prac.Billing, 5*time.Second)
		if err != nil {
			return sum, fmt.Errorf("notices: %w", err)
		}
		var last uint64
		touched := map[string]bool{}
		for _, n := range ns {
			sum.Notices++
			last = max(last, n.Seq)
			fmt.Fprintln(out, n.Describe())
			if n.Number != "" {
				touched[n.Number] = true
			}
		}
		if last > 0 {
			if err := cfg.Client.Confirm(ctx, prac.Billing, last); err != nil {
				return sum, fmt.Errorf("confirm notices: %w", err)
			}
		}
		for num := range touched {
			if !pending[num] {
				continue
			}
			st, err := cfg.Client.Sheet(ctx, prac.Billing, num)
			if err != nil {
				return sum, fmt.Errorf("state of sheet %s: %w", num, err)
			}
			if st.Final() && st.SCOR.Final() {
				delete(pending, num)
				count(sum, st)
			}
		}
	}
	for num := range pending {
		// One last look: a notice may have been confirmed before the sheet's
		// state was read.
		if st, err := cfg.Client.Sheet(ctx, prac.Billing, num); err == nil && st.Final() && st.SCOR.Final() {
			delete(pending, num)
			count(sum, st)
			continue
		}
		sum.Missing = append(sum.Missing, num)
	}
	sort.Strings(sum.Missing)
	if err := transfers(ctx, cfg.Client, prac.Billing, sent, sum, out); err != nil {
		return sum, err
	}
	fmt.Fprintf(out, "summary: %s\n", sum)
	// A sheet refused at the intake, or not final, is a failed demo; an
	// insurer's planned reject is a final state like any other.
	var errs []error
	if sum.Refused > 0 {
		errs = append(errs, fmt.Errorf("%d of %d sheets refused at the intake (codes above)", sum.Refused, sum.Sent))
	}
	if len(sum.Missing) > 0 {
		errs = append(errs, fmt.Errorf("%d sheets not final after %s: %v", len(sum.Missing), cfg.Wait, sum.Missing))
	}
	return sum, errors.Join(errs...)
}

// transfers lists the bank transfers that paid sheets of this run (a
// transfer may also pay sheets of earlier runs: it is shown whole).
func transfers(ctx context.Context, cl *client.Client, billing string, sent map[string]bool, sum *Summary, out io.Writer) error {
	ts, err := cl.AllPayments(ctx, billing, client.PaymentsQuery{})
	if err != nil {
		return fmt.Errorf("payments: %w", err)
	}
	for _, t := range ts {
		n := 0
		for _, l := range t.Lines {
			if l.Kind == "paid" && sent[l.Number] {
				n++
			}
		}
		if n == 0 {
			continue
		}
		sum.Transfers = append(sum.Transfers, t)
		sum.TransferCents += t.Total
		what := fmt.Sprintf("%d sheets", n)
		if n == 1 {
			what = "1 sheet"
		}
		line := fmt.Sprintf("transfer %s %s from %s: %s for %s of this run", t.Reference, t.Date, t.Insurer, client.Euros(t.Total), what)
		if w := t.Sum("withheld"); w != 0 {
			line += ", " + client.Euros(w) + " withheld"
		}
		if r := t.Sum("reversed"); r != 0 {
			line += ", " + client.Euros(r) + " reversed"
		}
		fmt.Fprintln(out, line)
	}
	return nil
}

func count(sum *Summary, st *client.Status) {
	sum.Final++
	if st.SCOR != nil && st.SCOR.State == "acknowledged" {
		sum.SCORAcked++
	}
	for _, d := range st.Destinations {
		switch d.State {
		case "paid":
			sum.Paid++
			sum.PaidCents += d.Amount
		case "accepted":
			sum.Accepted++
		case "rejected":
			sum.Rejected++
		default:
			sum.Failed++
		}
	}
}
