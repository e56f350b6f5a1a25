package psc

import (
	"html/template"
	"net/http"
)

type pageData struct {
	Request    string
	Action     string
	Client     string
	NationalID string
	Users      []User
	Error      string
}

var pageTmpl = template.Must(template.New("ecps").Parse(`<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pro Santé Connect (mock) · e-CPS</title>
<style>
body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1b1b35}
h1{font-size:1.3rem;color:#000091} .mock{background:#fff3cd;padding:.4rem .6rem;font-size:.85rem}
label{display:block;margin:.8rem 0 .2rem} input{font-size:1.1rem;padding:.3rem;width:100%;box-sizing:border-box}
button{margin-top:1rem;font-size:1.1rem;padding:.4rem 1.2rem;background:#000091;color:#fff;border:0}
.error{color:#b00020;font-weight:bold} table{font-size:.8rem;margin-top:2rem;border-collapse:collapse} td{padding:.1rem .5rem}
</style>
</head>
<body>
<h1>Pro Santé Connect — e-CPS</h1>
<p class="mock">Mock provider for development and tests: the e-CPS code is the card profile's PIN.</p>
{{if .Error}}<p class="error" id="error" role="alert">{{.Error}}</p>{{end}}
{{if .Request}}
<form method="post" action="{{.Action}}" id="ecps">
<input type="hidden" name="request" value="{{.Request}}">
<label for="national_id">Identifiant national (RPPS « 8… » ou ADELI « 0… »)</label>
<input id="national_id" name="national_id" value="{{.NationalID}}" autocomplete="username" required>
<label for="code">Code e-CPS (4 chiffres, affiché dans l'application)</label>
<input id="code" name="code" type="password" inputmode="numeric" pattern="[0-9]{4}" maxlength="4" autocomplete="off" required>
<button type="submit" id="ecps-submit">Valider</button>
</form>
<p>Application: {{.Client}}</p>
<table><caption>Test users</caption>
{{range .Users}}<tr><td>{{.NationalID}}</td><td>{{.GivenName}} {{.FamilyName}}</td></tr>{{end}}
</table>
{{end}}
</body>
</html>
`))

func (p *Provider) page(w http.ResponseWriter, status int, d pageData) {
	d.Action = p.Issuer() + "/auth/ecps"
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.WriteHeader(status)
	if err := pageTmpl.Execute(w, d); err != nil {
		p.log.Warn("psc page", "err", err)
	}
}
