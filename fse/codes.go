package fse

import "github.com/fsegate/fsegate/problem"

// The codes of the care sheet rules, declared once; Codes lists them.
const (
	// Format codes: the sheet could not be read.
	CodeMalformed       problem.Code = "SHEET_MALFORMED"
	CodeForbidden       problem.Code = "SHEET_FORBIDDEN"
	CodeTooLarge        problem.Code = "SHEET_TOO_LARGE"
	CodeTooDeep         problem.Code = "SHEET_TOO_DEEP"
	CodeUnknownElement  problem.Code = "SHEET_UNKNOWN_ELEMENT"
	CodeRepeatedElement problem.Code = "SHEET_REPEATED_ELEMENT"
	CodeMissingElement  problem.Code = "SHEET_MISSING_ELEMENT"
	CodeValue           problem.Code = "SHEET_VALUE"

	// Rule codes: the sheet was read and breaks a rule.
	CodeRequired           problem.Code = "REQUIRED"
	CodeNumberFormat       problem.Code = "NUMBER_FORMAT"
	CodeNIRFormat          problem.Code = "NIR_FORMAT"
	CodeNIRKey             problem.Code = "NIR_KEY"
	CodeRPPSInvalid        problem.Code = "RPPS_INVALID"
	CodeADELIInvalid       problem.Code = "ADELI_INVALID"
	CodeFINESSInvalid      problem.Code = "FINESS_INVALID"
	CodeNationalID         problem.Code = "NATIONAL_ID_MISMATCH"
	CodeBillingFormat      problem.Code = "BILLING_FORMAT"
	CodeProfession         problem.Code = "PROFESSION_UNKNOWN"
	CodeSpecialty          problem.Code = "SPECIALTY_FORMAT"
	CodeBirthDate          problem.Code = "BIRTH_DATE"
	CodeRank               problem.Code = "RANK_INVALID"
	CodeRouting            problem.Code = "ROUTING_FORMAT"
	CodeCareDateFuture     problem.Code = "CARE_DATE_FUTURE"
	CodeCareDateTooOld     problem.Code = "CARE_DATE_TOO_OLD"
	CodeCreated            problem.Code = "CREATED_INVALID"
	CodeLines              problem.Code = "LINES_COUNT"
	CodeNGAPKey            problem.Code = "NGAP_KEY_UNKNOWN"
	CodeNGAPTariff         problem.Code = "NGAP_TARIFF"
	CodeCoefficient        problem.Code = "COEFFICIENT_RANGE"
	CodeCCAMCode           problem.Code = "CCAM_CODE"
	CodeCIP13              problem.Code = "CIP13_INVALID"
	CodeQuantity           problem.Code = "QUANTITY_RANGE"
	CodeDrugRate           problem.Code = "DRUG_RATE"
	CodeLineAmount         problem.Code = "LINE_AMOUNT"
	CodeAMOShare           problem.Code = "AMO_SHARE"
	CodeParticipation      problem.Code = "PARTICIPATION"
	CodeFranchises         problem.Code = "FRANCHISES"
	CodeTotalBilled        problem.Code = "TOTAL_BILLED"
	CodeTotalAMO           problem.Code = "TOTAL_AMO"
	CodeTotalSplit         problem.Code = "TOTAL_SPLIT"
	CodeExemption          problem.Code = "EXEMPTION"
	CodeCCAMModifier       problem.Code = "CCAM_MODIFIER"
	CodePriceTable         problem.Code = "PRICE_TABLE"
	CodeAMCMissing         problem.Code = "AMC_MISSING"
	CodePrescription       problem.Code = "PRESCRIPTION_REQUIRED"
	CodeProfessionNotAllow problem.Code = "PROFESSION_NOT_ALLOWED"

	// Warning codes: the sheet is accepted and the warning travels in the receipt.
	CodeLate         problem.Code = "LATE"
	CodeDegraded     problem.Code = "DEGRADED_MODE"
	CodeBillingKey   problem.Code = "BILLING_KEY"
	CodePriceDiffers problem.Code = "PRICE_TABLE_DIFFERS"
	CodeNotInTable   problem.Code = "NOT_IN_TABLE"
)

// CodeInfo describes one code of the care sheet rules: its entry in the
// list (problem.Info), how to fix it, and whether it is found while
// decoding. A *CodeInfo is also the sentinel error of its code:
// errors.Is(err, fse.ErrNIRKey) tells whether err (a *ValidationError, a
// *FieldError) holds that violation.
type CodeInfo struct {
	problem.Info
	Hint   string // how to fix it
	Format bool   // found while decoding (the sheet could not be read)
}

func (c *CodeInfo) Error() string { return string(c.Code) + ": " + c.Title }

// ErrorCode is the sentinel's code (problem.CodeOf).
func (c *CodeInfo) ErrorCode() problem.Code { return c.Code }

// DocURL is where the code is explained, relative to the repository.
func (c *CodeInfo) DocURL() string { return c.Code.DocURL() }

func code(name problem.Code, title, hint string) *CodeInfo {
	return &CodeInfo{Info: problem.Info{Code: name, Title: title}, Hint: hint}
}

func formatCode(name problem.Code, title, hint string) *CodeInfo {
	c := code(name, title, hint)
	c.Format = true
	return c
}

func warning(name problem.Code, title, hint string) *CodeInfo {
	c := code(name, title, hint)
	c.Warning = true
	return c
}

// Format codes: the sheet could not be read.
var (
	ErrMalformed       = formatCode(CodeMalformed, "the care sheet is not well-formed XML or JSON", "produce the sheet with an XML or JSON library, not by hand")
	ErrForbidden       = formatCode(CodeForbidden, "the care sheet holds a DTD, an entity declaration or a processing instruction", "remove the DOCTYPE and processing instructions; the format needs none")
	ErrTooLarge        = formatCode(CodeTooLarge, "the care sheet is over the size limit", "split the care into several sheets")
	ErrTooDeep         = formatCode(CodeTooDeep, "the care sheet nests elements deeper than the format allows", "follow docs/care-sheet.xsd")
	ErrUnknownElement  = formatCode(CodeUnknownElement, "the care sheet holds an element, attribute or text the format does not define", "follow docs/care-sheet.xsd: check names, namespace urn:fsegate:fse:1 and spelling")
	ErrRepeatedElement = formatCode(CodeRepeatedElement, "an element that may appear once appears several times", "keep one occurrence")
	ErrMissingElement  = formatCode(CodeMissingElement, "a required element is absent", "add the element; docs/care-sheet.md lists them")
	ErrValue           = formatCode(CodeValue, "a value is not of its type (amount, date, time, number, enumeration)", "amounts are written 12.34, dates 2006-01-02, times RFC 3339")
)

// Rule codes: the sheet was read and breaks a rule.
var (
	ErrRequired           = code(CodeRequired, "a required field is empty", "fill the field")
	ErrNumberFormat       = code(CodeNumberFormat, "the sheet number is not 9 digits", "number sheets with 9 digits, unique per billing number")
	ErrNIRFormat          = code(CodeNIRFormat, "the NIR is not 15 characters starting with 1, 2, 7 or 8", "re-read the Vitale card")
	ErrNIRKey             = code(CodeNIRKey, "the NIR key does not match the first 13 characters", "re-read the Vitale card")
	ErrRPPSInvalid        = code(CodeRPPSInvalid, "the RPPS number is not 11 digits with a valid Luhn key", "copy the RPPS from the CPS card")
	ErrADELIInvalid       = code(CodeADELIInvalid, "the ADELI number is not 9 digits with a valid Luhn key", "copy the ADELI number from the CPS card")
	ErrFINESSInvalid      = code(CodeFINESSInvalid, "the FINESS number is not 9 digits with a valid Luhn key, nor a Corsican 2A/2B number", "copy the structure's FINESS number")
	ErrNationalID         = code(CodeNationalID, "the national id is not \"8\"+RPPS or \"0\"+ADELI of the practitioner", "take the national id from the CPS card")
	ErrBillingFormat      = code(CodeBillingFormat, "the billing number is not 9 digits", "use the practice's numéro AM")
	ErrProfession         = code(CodeProfession, "the profession code is not one the format knows", "use a G15 code: 10, 21, 40, 50, 60 or 70")
	ErrSpecialty          = code(CodeSpecialty, "the specialty is not 2 digits", "use the practitioner's 2-digit specialty code")
	ErrBirthDate          = code(CodeBirthDate, "the birth date is after the care date or more than 130 years before it", "re-read the Vitale card")
	ErrRank               = code(CodeRank, "the birth rank is not between 1 and 9", "re-read the Vitale card")
	ErrRouting            = code(CodeRouting, "régime, caisse, centre or AMC number is not of its form", "régime 2 digits, caisse 3, centre 4, AMC 9; re-read the Vitale card")
	ErrCareDateFuture     = code(CodeCareDateFuture, "the care date is in the future", "date the sheet on the day the care was given")
	ErrCareDateTooOld     = code(CodeCareDateTooOld, "the care date is older than the limit", "such old care must be billed on paper")
	ErrCreated            = code(CodeCreated, "the creation time is before the care date or in the future", "set the creation time when the sheet is made")
	ErrLines              = code(CodeLines, "the sheet has no line or more than 99", "bill between 1 and 99 lines per sheet")
	ErrNGAPKey            = code(CodeNGAPKey, "the NGAP key has no tariff at the care date", "check the key against fixtures/tariffs/ngap.csv")
	ErrNGAPTariff         = code(CodeNGAPTariff, "the line amount is not the key's tariff × coefficient at the care date", "bill the tariff in force on the care date")
	ErrCoefficient        = code(CodeCoefficient, "the NGAP coefficient is not above 0 and at most 99", "use the coefficient of the nomenclature")
	ErrCCAMCode           = code(CodeCCAMCode, "the CCAM code is not 4 letters and 3 digits", "copy the code from the CCAM")
	ErrCIP13              = code(CodeCIP13, "the CIP13 is not 13 digits starting 34 with a valid EAN-13 key", "scan the box again")
	ErrQuantity           = code(CodeQuantity, "the quantity is not between 1 and 99", "bill between 1 and 99 boxes per line")
	ErrDrugRate           = code(CodeDrugRate, "the drug reimbursement rate is not 15, 30, 65 or 100", "use the rate of the drug's listing")
	ErrLineAmount         = code(CodeLineAmount, "the line amount is not positive or not quantity × unit price", "compute the amount from its parts")
	ErrAMOShare           = code(CodeAMOShare, "the line's AMO share (or base) is not its rate × its base", "rates come from the tables: 70 % for doctors' acts, 60 % for auxiliaries', drugs at their rate class; 100 % on a line exempted (ALD-linked, maternity); a drug's base is its TFR × quantity when it has one")
	ErrParticipation      = code(CodeParticipation, "the participation forfaitaire recorded is wrong for this sheet", "€2 per sheet for a doctor's acts since 2024-05-15, none for minors, C2S, maternity, pharmacy and auxiliaries; recorded, never deducted from the AMO share")
	ErrFranchises         = code(CodeFranchises, "the franchises recorded are wrong for this sheet", "€1 per drug box and per auxiliary's act since 2024-03-31, at most €4 a day on acts, none for minors, C2S and maternity; recorded, never deducted")
	ErrTotalBilled        = code(CodeTotalBilled, "the billed total is not the sum of the lines", "sum the line amounts")
	ErrTotalAMO           = code(CodeTotalAMO, "the AMO total is not the sum of the lines' AMO shares", "sum the lines' AMO shares; the participation forfaitaire is recorded apart, not deducted")
	ErrTotalSplit         = code(CodeTotalSplit, "AMC and patient shares do not add up to the billed total minus the AMO share, or C2S does not pay the whole ticket modérateur", "patient share = billed − AMO − AMC, none negative; under C2S, AMC = base − AMO")
	ErrExemption          = code(CodeExemption, "a line's exemption does not match the patient's coverage", "mark ALD-linked lines \"ald\" for a patient covered \"ald\", lines under maternity insurance \"maternity\" for a patient covered \"maternity\"")
	ErrCCAMModifier       = code(CodeCCAMModifier, "a CCAM modifier is not one the act may take at the care date", "use the modifiers the CCAM lists for the act, at most 4")
	ErrPriceTable         = code(CodePriceTable, "a CCAM act, drug or fee is billed at another price than its table's at the care date", "bill the price in force on the care date, or have the gateway warn instead (--prices-warn)")
	ErrAMCMissing         = code(CodeAMCMissing, "an AMC share or AMC tiers payant without an AMC number for the patient", "read the AMC from the Vitale card or the mutual's card")
	ErrPrescription       = code(CodePrescription, "pharmacy lines need a prescription id and its prescriber", "scan the prescription's code")
	ErrProfessionNotAllow = code(CodeProfessionNotAllow, "the practitioner's profession may not bill this line", "a pharmacist bills drugs, a nurse AMI/AIS/IFD, a doctor G/C/APC/CCAM")
)

// Warning codes: the sheet is accepted and the warning travels in the receipt.
var (
	WarnLate         = warning(CodeLate, "the sheet is sent after its deadline (3 working days, 8 under tiers payant)", "send sheets on the day; a late sheet may be refused by the caisse")
	WarnDegraded     = warning(CodeDegraded, "the sheet was made without the Vitale card", "send the paper copy signed by the patient to the caisse")
	WarnBillingKey   = warning(CodeBillingKey, "the billing number's key (last digit) does not pass the Luhn check", "copy the billing number from the CPS card's situation; the key's algorithm has no normative source, so this is a warning")
	WarnPriceDiffers = warning(CodePriceDiffers, "a line is billed at another price than its table's (the table is set to warn)", "check the price against the table in force on the care date")
	WarnNotInTable   = warning(CodeNotInTable, "a CCAM act, drug or fee is not in fsegate's table: its billed price and rate are taken as they are", "check the code; the tables hold the common codes only (docs/amounts.md)")
)

// codes is the list of every code of the care sheet, format codes first.
var codes = []*CodeInfo{
	ErrMalformed,
	ErrForbidden,
	ErrTooLarge,
	ErrTooDeep,
	ErrUnknownElement,
	ErrRepeatedElement,
	ErrMissingElement,
	ErrValue,
	ErrRequired,
	ErrNumberFormat,
	ErrNIRFormat,
	ErrNIRKey,
	ErrRPPSInvalid,
	ErrADELIInvalid,
	ErrFINESSInvalid,
	ErrNationalID,
	ErrBillingFormat,
	ErrProfession,
	ErrSpecialty,
	ErrBirthDate,
	ErrRank,
	ErrRouting,
	ErrCareDateFuture,
	ErrCareDateTooOld,
	ErrCreated,
	ErrLines,
	ErrNGAPKey,
	ErrNGAPTariff,
	ErrCoefficient,
	ErrCCAMCode,
	ErrCIP13,
	ErrQuantity,
	ErrDrugRate,
	ErrLineAmount,
	ErrAMOShare,
	ErrParticipation,
	ErrFranchises,
	ErrTotalBilled,
	ErrTotalAMO,
	ErrTotalSplit,
	ErrExemption,
	ErrCCAMModifier,
	ErrPriceTable,
	ErrAMCMissing,
	ErrPrescription,
	ErrProfessionNotAllow,
	WarnLate,
	WarnDegraded,
	WarnBillingKey,
	WarnPriceDiffers,
	WarnNotInTable,
}

// Codes lists every code of the care sheet, format codes first.
func Codes() []*CodeInfo {
	out := make([]*CodeInfo, len(codes))
	copy(out, codes)
	return out
}

// Infos lists the entries of Codes, for the registry (api/registry).
func Infos() []problem.Info {
	out := make([]problem.Info, len(codes))
	for i, c := range codes {
		out[i] = c.Info
	}
	return out
}

// LookupCode gives the code named name.
func LookupCode(name problem.Code) (*CodeInfo, bool) {
	for _, c := range codes {
		if c.Code == name {
			return c, true
		}
	}
	return nil, false
}
