package rxday

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/fse/tables"
)

// TestWriteFolder: sheets named BILLING-NUMBER, numbered from the seed;
// a pharmacy's day asked for only when a pharmacist's sheet comes.
func TestWriteFolder(t *testing.T) {
	set, err := tables.Load(os.DirFS(filepath.Join("..", "..", "fixtures", "tariffs")))
	if err != nil {
		t.Fatal(err)
	}
	var rules fse.Options
	set.Apply(&rules)
	doctor := fse.Practitioner{IDType: fse.IDTypeRPPS, ID: "99700218896", NationalID: "899700218896", Profession: fse.ProfessionDoctor, Specialty: "01", Billing: "751000019"}
	dir := t.TempDir()
	days := 0
	err = WriteFolder(context.Background(), Folder{
		Dir: dir, Count: 3, Seed: 10042, Rand: rand.New(rand.NewPCG(42, 0x5eed)), JSON: true,
		Sheet: fse.GenerateOptions{Now: time.Date(2026, 3, 18, 10, 30, 0, 0, time.UTC), Practitioners: []fse.Practitioner{doctor}, Tariffs: rules.Tariffs, CCAM: rules.CCAM, Drugs: rules.Drugs},
		Day:   func() (*Day, error) { days++; return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	if want := []string{"751000019-004200001.json", "751000019-004200002.json", "751000019-004200003.json"}; !slices.Equal(names, want) {
		t.Errorf("got %v, want %v", names, want)
	}
	if days != 0 {
		t.Errorf("a pharmacy's day asked for %d times for a doctor's sheets", days)
	}
}
