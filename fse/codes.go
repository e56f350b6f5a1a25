package fse

// CodeInfo describes one stable code of the care sheet rules. A *CodeInfo is
// also the sentinel error of its code: errors.Is(err, fse.ErrNIRKey) tells
// whether err (a *ValidationError, a *FieldError) holds that violation.
type CodeInfo struct {
	Code    string // stable, e.g. NIR_KEY; the anchor in docs/errors.md
	Title   string // one line, lowercase, no final period
	Hint    string // how to fix it
	Warning bool   // warnings never refuse a sheet
	Format  bool   // found while decoding (the sheet could not be read)
}

func (c *CodeInfo) Error() string { return c.Code + ": " + c.Title }

// DocURL is where the code is explained, relative to the repository.
func (c *CodeInfo) DocURL() string { return "docs/errors.md#" + c.Code }

var codes []*CodeInfo

func code(name, title, hint string) *CodeInfo {
	c := &CodeInfo{Code: name, Title: title, Hint: hint}
	codes = append(codes, c)
	return c
}

func formatCode(name, title, hint string) *CodeInfo {
	c := code(name, title, hint)
	c.Format = true
	return c
}

func warning(name, title, hint string) *CodeInfo {
	c := code(name, title, hint)
	c.Warning = true
	return c
}

// Format codes: the sheet could not be read.
var (
	ErrMalformed       = formatCode("SHEET_MALFORMED", "the care sheet is not well-formed XML or JSON", "produce the sheet with an XML or JSON library, not by hand")
	ErrForbidden       = formatCode("SHEET_FORBIDDEN", "the care sheet holds a DTD, an entity declaration or a processing instruction", "remove the DOCTYPE and processing instructions; the format needs none")
	ErrTooLarge        = formatCode("SHEET_TOO_LARGE", "the care sheet is over the size limit", "split the care into several sheets")
	ErrTooDeep         = formatCode("SHEET_TOO_DEEP", "the care sheet nests elements deeper than the format allows", "follow docs/care-sheet.xsd")
	ErrUnknownElement  = formatCode("SHEET_UNKNOWN_ELEMENT", "the care sheet holds an element, attribute or text the format does not define", "follow docs/care-sheet.xsd: check names, namespace urn:fsegate:fse:1 and spelling")
	ErrRepeatedElement = formatCode("SHEET_REPEATED_ELEMENT", "an element that may appear once appears several times", "keep one occurrence")
	ErrMissingElement  = formatCode("SHEET_MISSING_ELEMENT", "a required element is absent", "add the element; docs/care-sheet.md lists them")
	ErrValue           = formatCode("SHEET_VALUE", "a value is not of its type (amount, date, time, number, enumeration)", "amounts are written 12.34, dates 2006-01-02, times RFC 3339")
)

// Rule codes: the sheet was read and breaks a rule.
var (
	ErrRequired           = code("REQUIRED", "a required field is empty", "fill the field")
	ErrNumberFormat       = code("NUMBER_FORMAT", "the sheet number is not 9 digits", "number sheets with 9 digits, unique per billing number")
	ErrNIRFormat          = code("NIR_FORMAT", "the NIR is not 15 characters starting with 1, 2, 7 or 8", "re-read the Vitale card")
	ErrNIRKey             = code("NIR_KEY", "the NIR key does not match the first 13 characters", "re-read the Vitale card")
	ErrRPPSInvalid        = code("RPPS_INVALID", "the RPPS number is not 11 digits with a valid Luhn key", "copy the RPPS from the CPS card")
	ErrADELIInvalid       = code("ADELI_INVALID", "the ADELI number is not 9 digits with a valid Luhn key", "copy the ADELI number from the CPS card")
	ErrFINESSInvalid      = code("FINESS_INVALID", "the FINESS number is not 9 digits with a valid Luhn key, nor a Corsican 2A/2B number", "copy the structure's FINESS number")
	ErrNationalID         = code("NATIONAL_ID_MISMATCH", "the national id is not \"8\"+RPPS or \"0\"+ADELI of the practitioner", "take the national id from the CPS card")
	ErrBillingFormat      = code("BILLING_FORMAT", "the billing number is not 9 digits", "use the practice's numéro AM")
	ErrProfession         = code("PROFESSION_UNKNOWN", "the profession code is not one the format knows", "use a G15 code: 10, 21, 40, 50, 60 or 70")
	ErrSpecialty          = code("SPECIALTY_FORMAT", "the specialty is not 2 digits", "use the practitioner's 2-digit specialty code")
	ErrBirthDate          = code("BIRTH_DATE", "the birth date is after the care date or more than 130 years before it", "re-read the Vitale card")
	ErrRank               = code("RANK_INVALID", "the birth rank is not between 1 and 9", "re-read the Vitale card")
	ErrRouting            = code("ROUTING_FORMAT", "régime, caisse, centre or AMC number is not of its form", "régime 2 digits, caisse 3, centre 4, AMC 9; re-read the Vitale card")
	ErrCareDateFuture     = code("CARE_DATE_FUTURE", "the care date is in the future", "date the sheet on the day the care was given")
	ErrCareDateTooOld     = code("CARE_DATE_TOO_OLD", "the care date is older than the limit", "such old care must be billed on paper")
	ErrCreated            = code("CREATED_INVALID", "the creation time is before the care date or in the future", "set the creation time when the sheet is made")
	ErrLines              = code("LINES_COUNT", "the sheet has no line or more than 99", "bill between 1 and 99 lines per sheet")
	ErrNGAPKey            = code("NGAP_KEY_UNKNOWN", "the NGAP key has no tariff at the care date", "check the key against fixtures/tariffs/ngap.csv")
	ErrNGAPTariff         = code("NGAP_TARIFF", "the line amount is not the key's tariff × coefficient at the care date", "bill the tariff in force on the care date")
	ErrCoefficient        = code("COEFFICIENT_RANGE", "the NGAP coefficient is not above 0 and at most 99", "use the coefficient of the nomenclature")
	ErrCCAMCode           = code("CCAM_CODE", "the CCAM code is not 4 letters and 3 digits", "copy the code from the CCAM")
	ErrCIP13              = code("CIP13_INVALID", "the CIP13 is not 13 digits starting 34 with a valid EAN-13 key", "scan the box again")
	ErrQuantity           = code("QUANTITY_RANGE", "the quantity is not between 1 and 99", "bill between 1 and 99 boxes per line")
	ErrDrugRate           = code("DRUG_RATE", "the drug reimbursement rate is not 15, 30, 65 or 100", "use the rate of the drug's listing")
	ErrLineAmount         = code("LINE_AMOUNT", "the line amount is not positive or not quantity × unit price", "compute the amount from its parts")
	ErrAMOShare           = code("AMO_SHARE", "the line's AMO share (or base) is not its rate × its base", "rates come from the tables: 70 % for doctors' acts, 60 % for auxiliaries', drugs at their rate class; 100 % on a line exempted (ALD-linked, maternity); a drug's base is its TFR × quantity when it has one")
	ErrParticipation      = code("PARTICIPATION", "the participation forfaitaire recorded is wrong for this sheet", "€2 per sheet for a doctor's acts since 2024-05-15, none for minors, C2S, maternity, pharmacy and auxiliaries; recorded, never deducted from the AMO share")
	ErrFranchises         = code("FRANCHISES", "the franchises recorded are wrong for this sheet", "€1 per drug box and per auxiliary's act since 2024-03-31, at most €4 a day on acts, none for minors, C2S and maternity; recorded, never deducted")
	ErrTotalBilled        = code("TOTAL_BILLED", "the billed total is not the sum of the lines", "sum the line amounts")
	ErrTotalAMO           = code("TOTAL_AMO", "the AMO total is not the sum of the lines' AMO shares", "sum the lines' AMO shares; the participation forfaitaire is recorded apart, not deducted")
	ErrTotalSplit         = code("TOTAL_SPLIT", "AMC and patient shares do not add up to the billed total minus the AMO share, or C2S does not pay the whole ticket modérateur", "patient share = billed − AMO − AMC, none negative; under C2S, AMC = base − AMO")
	ErrExemption          = code("EXEMPTION", "a line's exemption does not match the patient's coverage", "mark ALD-linked lines \"ald\" for a patient covered \"ald\", lines under maternity insurance \"maternity\" for a patient covered \"maternity\"")
	ErrCCAMModifier       = code("CCAM_MODIFIER", "a CCAM modifier is not one the act may take at the care date", "use the modifiers the CCAM lists for the act, at most 4")
	ErrPriceTable         = code("PRICE_TABLE", "a CCAM act, drug or fee is billed at another price than its table's at the care date", "bill the price in force on the care date, or have the gateway warn instead (--prices-warn)")
	ErrAMCMissing         = code("AMC_MISSING", "an AMC share or AMC tiers payant without an AMC number for the patient", "read the AMC from the Vitale card or the mutual's card")
	ErrPrescription       = code("PRESCRIPTION_REQUIRED", "pharmacy lines need a prescription id and its prescriber", "scan the prescription's code")
	ErrProfessionNotAllow = code("PROFESSION_NOT_ALLOWED", "the practitioner's profession may not bill this line", "a pharmacist bills drugs, a nurse AMI/AIS/IFD, a doctor G/C/APC/CCAM")
)

// Warning codes: the sheet is accepted and the warning travels in the receipt.
var (
	WarnLate         = warning("LATE", "the sheet is sent after its deadline (3 working days, 8 under tiers payant)", "send sheets on the day; a late sheet may be refused by the caisse")
	WarnDegraded     = warning("DEGRADED_MODE", "the sheet was made without the Vitale card", "send the paper copy signed by the patient to the caisse")
	WarnBillingKey   = warning("BILLING_KEY", "the billing number's key (last digit) does not pass the Luhn check", "copy the billing number from the CPS card's situation; the key's algorithm has no normative source, so this is a warning")
	WarnPriceDiffers = warning("PRICE_TABLE_DIFFERS", "a line is billed at another price than its table's (the table is set to warn)", "check the price against the table in force on the care date")
	WarnNotInTable   = warning("NOT_IN_TABLE", "a CCAM act, drug or fee is not in fsegate's table: its billed price and rate are taken as they are", "check the code; the tables hold the common codes only (docs/amounts.md)")
)

// Codes lists every code of the care sheet, format codes first.
func Codes() []*CodeInfo {
	out := make([]*CodeInfo, len(codes))
	copy(out, codes)
	return out
}

// LookupCode gives the code named name.
func LookupCode(name string) (*CodeInfo, bool) {
	for _, c := range codes {
		if c.Code == name {
			return c, true
		}
	}
	return nil, false
}
