package commerce

import (
	"context"

	"behalf/model"
	"behalf/store"
)

// demoProducts is a small B2B catalog (industrial and laboratory supplies), prices in EUR.
var demoProducts = []CreateProductInput{
	{"FAS-M8-40-100", "Hex bolt M8×40, zinc plated (box of 100)", "DIN 933, property class 8.8, fully threaded.", "18.90", "EUR", 420},
	{"FAS-M8-NUT-100", "Hex nut M8, zinc plated (box of 100)", "DIN 934, class 8.", "6.40", "EUR", 800},
	{"FAS-M10-60-50", "Hex bolt M10×60, stainless A2 (box of 50)", "DIN 933, stainless steel A2-70.", "32.50", "EUR", 150},
	{"FAS-WSH-M8-500", "Flat washer M8 (pack of 500)", "DIN 125 A, steel, zinc plated.", "9.95", "EUR", 600},
	{"FAS-ANC-10-50", "Nylon wall anchor 10 mm (box of 50)", "For concrete, brick and solid stone.", "7.80", "EUR", 350},
	{"FAS-SCR-4x40-200", "Wood screw 4×40 mm, Torx (box of 200)", "Countersunk head, yellow zinc, partial thread.", "11.20", "EUR", 500},
	{"FAS-RIV-4.8-250", "Blind rivet 4.8×12 mm aluminium (250)", "Dome head, steel mandrel.", "14.60", "EUR", 240},
	{"TOL-DRL-18V", "Cordless drill driver 18 V", "Two-speed gearbox, 60 Nm, two 4 Ah batteries and charger in case.", "189.00", "EUR", 35},
	{"TOL-IMP-18V", "Cordless impact wrench 18 V", "1/2\" square drive, 300 Nm, bare tool.", "229.00", "EUR", 20},
	{"TOL-BIT-SET-32", "Screwdriver bit set, 32 pieces", "PH, PZ, Torx and hex bits with magnetic holder.", "24.90", "EUR", 140},
	{"TOL-HSS-SET-19", "HSS twist drill set 1–10 mm (19 pieces)", "Ground, 135° split point, metal case.", "29.50", "EUR", 90},
	{"TOL-TRQ-12-200", "Torque wrench 1/2\", 40–200 Nm", "Click type, ±4 % accuracy, calibration certificate.", "119.00", "EUR", 25},
	{"TOL-CAL-150", "Digital caliper 150 mm", "Stainless steel, 0.01 mm resolution, IP54.", "39.90", "EUR", 60},
	{"TOL-LVL-600", "Spirit level 600 mm", "Aluminium profile, two vials, ±0.5 mm/m.", "21.40", "EUR", 75},
	{"TOL-TAPE-5M", "Tape measure 5 m", "Class II, 25 mm blade, belt clip.", "8.90", "EUR", 300},
	{"TOL-KNF-UTL", "Utility knife with 10 spare blades", "Retractable, metal body.", "6.50", "EUR", 260},
	{"SAF-GLV-NIT-M", "Nitrile gloves, size M (box of 100)", "Powder-free, 4 mil, EN 374.", "12.90", "EUR", 900},
	{"SAF-GLV-NIT-L", "Nitrile gloves, size L (box of 100)", "Powder-free, 4 mil, EN 374.", "12.90", "EUR", 900},
	{"SAF-GLV-CUT-9", "Cut-resistant gloves, size 9 (pair)", "EN 388 level C, PU-coated palm.", "7.40", "EUR", 400},
	{"SAF-GOG-CLR", "Safety goggles, clear", "Anti-fog, indirect ventilation, EN 166.", "9.20", "EUR", 220},
	{"SAF-EAR-200", "Foam ear plugs (200 pairs)", "SNR 37 dB, dispenser box.", "34.00", "EUR", 80},
	{"SAF-HLM-WHT", "Safety helmet, white", "ABS shell, 6-point harness, EN 397.", "15.80", "EUR", 110},
	{"SAF-VST-XL", "High-visibility vest, yellow, XL", "EN ISO 20471 class 2.", "4.90", "EUR", 500},
	{"SAF-FAK-DIN", "First-aid kit DIN 13157", "Wall-mountable case for workplaces.", "42.00", "EUR", 45},
	{"PKG-BOX-400", "Shipping box 400×300×200 mm (bundle of 25)", "Single-wall corrugated cardboard.", "19.50", "EUR", 320},
	{"PKG-TAPE-50", "Packing tape 50 mm × 66 m (6 rolls)", "Polypropylene, low-noise, brown.", "10.80", "EUR", 450},
	{"PKG-STR-FILM", "Stretch film 500 mm × 300 m", "23 µm, hand roll, clear.", "13.90", "EUR", 200},
	{"PKG-BUB-1M", "Bubble wrap 1 m × 50 m", "10 mm bubbles, on roll.", "27.00", "EUR", 60},
	{"PKG-PAL-EUR", "EUR pallet 1200×800 mm", "EPAL certified, used grade A.", "16.00", "EUR", 100},
	{"LAB-PIP-1000", "Pipette tips 100–1000 µl (1000 pieces)", "Blue, racked, DNase/RNase free.", "38.50", "EUR", 180},
	{"LAB-PIP-200", "Pipette tips 2–200 µl (1000 pieces)", "Yellow, racked, sterile.", "34.90", "EUR", 200},
	{"LAB-TUB-15", "Centrifuge tubes 15 ml (500 pieces)", "Polypropylene, conical, sterile.", "64.00", "EUR", 70},
	{"LAB-TUB-50", "Centrifuge tubes 50 ml (500 pieces)", "Polypropylene, conical, sterile.", "79.00", "EUR", 60},
	{"LAB-BKR-250", "Beaker 250 ml, borosilicate (pack of 12)", "Low form, graduated, DIN 12331.", "29.80", "EUR", 90},
	{"LAB-FLK-500", "Erlenmeyer flask 500 ml (pack of 10)", "Borosilicate glass 3.3, narrow neck.", "46.50", "EUR", 50},
	{"LAB-CYL-100", "Measuring cylinder 100 ml, class A", "Borosilicate glass, hexagonal base.", "17.90", "EUR", 85},
	{"LAB-PH-MTR", "Benchtop pH meter", "Range 0–14, ±0.01 pH, with electrode and buffers.", "349.00", "EUR", 12},
	{"LAB-BAL-220", "Analytical balance 220 g / 0.1 mg", "Internal calibration, draft shield, RS-232 and USB.", "1890.00", "EUR", 4},
	{"LAB-STR-HOT", "Magnetic stirrer with hot plate", "Up to 1500 rpm and 340 °C, 5 l capacity.", "412.00", "EUR", 9},
	{"LAB-COAT-L", "Lab coat, cotton, size L", "Press studs, three pockets, 60 °C washable.", "24.50", "EUR", 70},
	{"LAB-WIP-280", "Lint-free wipes (box of 280)", "For optics and instruments.", "6.90", "EUR", 400},
	{"OFF-PAP-A4-5", "Copy paper A4, 80 g/m² (box of 5 reams)", "2500 sheets, FSC certified.", "27.50", "EUR", 300},
	{"OFF-PEN-BL-50", "Ballpoint pens, blue (box of 50)", "Medium tip, retractable.", "14.50", "EUR", 150},
	{"OFF-BIN-A4-10", "Lever arch files A4, 80 mm (10 pieces)", "Cardboard, PP-coated edges.", "22.90", "EUR", 120},
	{"OFF-LBL-A4-100", "Address labels 70×36 mm (100 sheets)", "24 labels per sheet, for laser printers.", "18.40", "EUR", 140},
	{"OFF-TNR-BK-26", "Toner cartridge black, type 26A", "Compatible, about 3100 pages.", "59.00", "EUR", 40},
	{"CLN-IPA-1L", "Isopropyl alcohol 99.9 %, 1 l", "For cleaning electronics and surfaces.", "9.60", "EUR", 260},
	{"CLN-TWL-6", "Paper towel rolls, 2-ply (6 rolls)", "Industrial, 180 m per roll.", "31.00", "EUR", 90},
	{"CLN-DEG-5L", "Industrial degreaser concentrate, 5 l", "Water-based, biodegradable, dilute 1:20.", "36.50", "EUR", 55},
	{"ELE-CBL-3G15-50", "Power cable H07RN-F 3G1.5, 50 m", "Rubber-sheathed, for outdoor and workshop use.", "84.00", "EUR", 30},
	{"ELE-EXT-5X", "Power strip, 5 sockets, 3 m", "With switch and child protection.", "12.40", "EUR", 160},
	{"ELE-LED-50W", "LED floodlight 50 W, 4000 K", "IP65, 5000 lm, with 1.5 m cable.", "26.90", "EUR", 70},
}

// LoadDemoCatalog adds the demo catalog (skipping skus that exist); package demo calls it.
func (s *Service) LoadDemoCatalog(ctx context.Context) error {
	conn := store.Conn(ctx, s.db)
	for _, in := range demoProducts {
		p, err := newProduct(in)
		if err != nil {
			return err
		}
		var n int64
		if err := conn.Model(&model.Product{}).Where("sku = ?", p.SKU).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		if err := conn.Create(p).Error; err != nil {
			return err
		}
	}
	return nil
}
