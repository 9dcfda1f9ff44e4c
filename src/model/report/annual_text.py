"""The annual report's words, in English and Danish, with every number filled in from the run.

The report notebook (``annual_report.ipynb``, parameter ``language``) holds
no prose: it asks :class:`ReportText` for each paragraph, heading and
caption.  Every number in the text is a placeholder filled from the run's
configuration or tables (citizens per capacity, km² per capacity, the
rounding rule and step, the island threshold, the years), so a run with
other settings never shows a stale constant; Danish text uses Danish
number formats (``1.600``, ``0,88``) and the memo's Danish terms.
Column labels of the tables are translated by :data:`DA_LABELS` (and the
patterns of :data:`DA_PATTERNS`); variable names never reach the page.

Section anchors (``#summary``, ``#capacities``...) are the same in both
languages; the method document is linked per rule (``method.html#step-5-gp-capacities``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from model.config import ModelConfig
from model.report.display import num, table_html

#: The report's sections: anchor, number, English and Danish title.
SECTIONS: tuple[tuple[str, int, str, str], ...] = (
    ("summary", 1, "Summary", "Sammenfatning"),
    ("data", 2, "The data", "Data"),
    ("regression", 3, "The regression", "Regressionen"),
    ("price-list", 4, "The price list", "Prislisten"),
    ("capacities", 5, "Capacities per health council and municipality", "Kapaciteter pr. sundhedsråd og kommune"),
    ("clinics", 6, "Clinic minimum patient numbers", "Klinikkernes minimumspatienttal"),
    ("stability", 7, "Stability, uncertainty and sensitivity", "Stabilitet, usikkerhed og følsomhed"),
    ("changes", 8, "What changed since last year", "Hvad er ændret siden sidste år"),
    ("release", 9, "Release check and supply ratios", "Frigivelsestjek og dækningsgrad"),
    ("assumptions", 10, "Assumptions and caveats", "Antagelser og forbehold"),
    ("provenance", 11, "Provenance", "Oprindelse"),
)

#: Sections of the method document each rule links to (anchors of docs/method.md and docs/method.da.md).
METHOD_ANCHORS = {
    "en": {"step1": "step-1-historical-use-the-dependent-variable", "step2": "step-2-regression-of-use-on-characteristics",
           "step3": "step-3-disease-weight", "step4": "step-4-disease-weighted-citizens",
           "step5": "step-5-gp-capacities", "step6": "step-6-clinic-minimum-patient-number"},
}

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Annual model report {year}: GP capacity per health council",
        "intro": (
            "The national model for the distribution of GP capacity (executive order no. 975 of 30 June 2025) "
            "turns each citizen's expected use of general practice into a **disease weight**, adds the weights up "
            "per area, and divides by {cpc} to get the number of **GP capacities** each health council "
            "(*sundhedsråd*) should have. The same weights give each clinic its **minimum patient number**.\n\n"
            "This report shows the results of the run on the data of {year} for the planning year {planning_year}, "
            "how they were reached, and which assumptions they rest on. It is written for readers, not programmers: "
            "the code behind it is left out. No table shows a count of fewer than {k} persons (such counts appear "
            "as <{k}). References such as §4.6.4 are sections of the ministry's consultation memo on the executive "
            "order (*høringsnotat*); the [method document](method.html) explains every rule with its source."),
        "contents": "Contents",
        "appendices": ("Appendices: {links}. The method, rule by rule: [method document](method.html) "
                       "([dansk](method.da.html))."),
        "summary": (
            "Fitted on the data of **{year}**, the model gives **{capacities} GP capacities** for **{planning_year}** "
            "across Denmark's {councils} health councils. Today {allocated} capacities are allocated (counted as the "
            "executive order counts them, island doctors with fewer than {island} patients left out).\n\n"
            "A region **may allocate new capacity** where the model's number is above what is allocated: this year "
            "in **{where}**{headroom_total}.\n\n"
            "The national goal is at least **{goal} GPs in 2035** (§4.2.1). The model's total of {capacities} "
            "capacities is {goal_pct} % of that goal; one capacity is about one full-time GP."),
        "no_council": "no health council",
        "headroom_total": " ({total} capacities in all)",
        "headroom_note": (
            "*Headroom* is the model's number minus the capacities allocated today. Where it is above zero the "
            "region may, but need not, allocate up to that many new capacities, and only there may the temporary "
            "supplement be used (§4.5.3; [method, step 5](method.html#{step5}))."),
        "uncertainty": (
            "**How sure are these numbers?** A cluster bootstrap ({draws} draws, resampling clinics) refits the "
            "model on resampled data. {sure}{unsure} The interval covers only the sampling error of the "
            "coefficients; it does not cover changes in the population, in coding or in the data from one year to "
            "the next, which move the numbers more (section 7)."),
        "uncertainty_sure": "In {n} of {councils} health councils the rounded number was the same in every draw. ",
        "uncertainty_unsure": "The rounded number differed from this run's in at least one draw in {which}.",
        "uncertainty_many": "{n} of {councils} health councils (the table shows how often)",
        "uncertainty_none": "Every health council's rounded number was the same in all draws.",
        "no_uncertainty": ("**How sure are these numbers?** The bootstrap did not run for this report (it needs at "
                           "least two years of data)."),
        "data_intro": (
            "The model uses one year of register data per citizen: age, sex, origin, civil status, attachment to "
            "the labour market, selected chronic diseases, and what general practice was paid for the citizen (the "
            "gross fee, *bruttohonorar*). Only citizens in health-insurance group 1 count. The data were checked "
            "against the project's data contracts before the model ran."),
        "validation": "**Validation:** {summary}",
        "validation_none": "the data checks did not run for this report.",
        "imputed_le": ("Statistics Denmark publishes no life expectancy for {names}. These municipalities take their "
                       "health council's figure (population-weighted)."),
        "calibration": (
            "These are the project's **synthetic** data, not register data. They are calibrated to public figures: "
            "each municipality's age structure, listing, and the official figures of the ministry's draft model "
            "(the last column is this run's fit). See the [calibration document](synthetic_data_calibration.html)."),
        "regression_intro": (
            "The disease weights come from a regression of each citizen's use of general practice (gross fee in DKK) "
            "on their characteristics ([method, step 2](method.html#{step2})). Each coefficient is the extra yearly "
            "use of a characteristic, compared with a man aged 25-34 with none of the characteristics. The "
            "confidence intervals (95 %) show how precisely each is estimated.\n\n"
            "The executive order estimates the model **without** the patients of regional and tender clinics, "
            "because those clinics record their services differently (§4.4.3). Their patients still count when "
            "capacities are computed. To show what that choice does, the model is also fitted **with** them."),
        "difference": (
            "**The difference in plain words.** Including the patients of regional and tender clinics moves the "
            "coefficients by at most {moves}. A positive difference means the characteristic looks more costly "
            "when those patients are included. Where the confidence intervals of the two fits overlap, the "
            "difference is within what chance alone could produce."),
        "price_intro": (
            "The **weight** of a combination of characteristics is its predicted use divided by the average "
            "citizen's, so the average citizen weighs 1 ([method, step 3](method.html#{step3})). The table and the "
            "heat map show the weight by age and sex for a citizen with none of the add-ons; the next table shows "
            "what each add-on adds."),
        "le_intro": (
            "Last, each weight is multiplied by a **life-expectancy factor** for the citizen's municipality: national "
            "life expectancy divided by the municipality's (§4.4.2.4). Citizens in municipalities with lower life "
            "expectancy weigh more; the correction offsets that historical use can carry on existing inequality."),
        "capacities_intro": (
            "For each municipality the weighted citizens (the weights of its residents, scaled to the expected "
            "population at the end of {planning_year}) are divided by {cpc}: that is the **need** "
            "([method, steps 4-5](method.html#{step4})). {floor_rule} The health council's binding number is the sum "
            "over its municipalities, rounded {rounding_words}."),
        "floor_rule": ("The transition rule guarantees at least one capacity per {km2} km² in each municipality (the "
                       "**area floor**); the larger of the two is the municipality's indicative number."),
        "no_floor_rule": "This run has no area floor (km² per capacity is not set).",
        "rounding_up": "up (449.2 becomes 450, §4.6.4)",
        "rounding_nearest": "to the nearest whole number (a variant; the executive order rounds up)",
        "floor_binds": ("The area floor binds in **{n} of {m} municipalities**{which}. Per municipality the numbers are "
                        "indicative only; the binding number is the health council's (§4.6.3)."),
        "islands": (
            "Island doctors with fewer than {island} listed patients are left out of the counted allocation (§4.2.4), "
            "so their capacity does not use up the health council's number. The deduction follows the regions' "
            "annex-2 reports, valid from the report date and one year on (R§3); where no report covers a clinic, the "
            "clinic register's island-doctor flag with the listed count is used. The table names the source of each "
            "deduction."),
        "no_islands": " No such clinic is in this year's data.",
        "clinics_intro": (
            "Each clinic's minimum patient number is its capacities × {cpc} divided by the mean weight of its listed "
            "patients, rounded to the nearest {step} so that small changes do not move it (§4.3.1, §4.3.9; "
            "[method, step 6](method.html#{step6})){cap}. A clinic with heavier patients gets a lower number. The "
            "figures below are per capacity, so clinics of different sizes can be compared."),
        "cap": ", and capped at {cap}",
        "extremes": ("The clinics with the heaviest and the lightest patients (only clinics with at least {k} listed "
                     "patients, so that every mean rests on at least that many persons):"),
        "profiles": ("What makes patients heavy: the patient mix of the tenth of clinics with the heaviest and with "
                     "the lightest patients, summed over all clinics in each tenth."),
        "no_profiles": "The patient mix of the clinics (clinic_profiles) is not part of this run.",
        "stability_intro": (
            "How much do the results move? **Stability**: the model is refitted on every year of the data (fees "
            "brought to the latest year's price level), and the table shows how much capacity would move between "
            "health councils from one year to the next, how many councils' rounded numbers change, and how many "
            "clinics' minimum numbers move. A cluster bootstrap (resampling clinics) shows how sure each council's "
            "rounded number is. **Sensitivity**: each objection raised in the consultation is run as a variant of "
            "the model, side by side with the base model; a variant that cannot change anything in these data says "
            "why in its note. The detail is in the appendices [stability](stability.html) and "
            "[sensitivity](sensitivity.html). All of them use this run's settings."),
        "no_stability": "**Stability is not shown:** it needs at least two years of data, and this data folder has one.",
        "no_sensitivity": "**Sensitivity analyses are not shown:** they need at least two years of data (a held-out year).",
        "no_previous": "No previous report was given, so there is nothing to compare with.",
        "previous": "Compared with the previous run ({what}, data of {y0}):",
        "previous_computed": "the previous year's fit, computed for this report from the same data folder and settings",
        "previous_given": "the previous report",
        "no_setting_changed": "No model setting changed.",
        "release_intro": (
            "Before a year's weights are sent out, the **publication gate** checks the new fit: no negative "
            "coefficient for a characteristic that can only add use, no implausible cell, disease steps that never go "
            "down, a smooth age profile, no sign flip against the previous year, large moves of a council's "
            "capacities, and the previous year's fit recomputed on today's code "
            "([method](method.html#before-a-model-year-is-released)). The thresholds are settings (`release_*`)."),
        "release_none": "The gate compares with the previous year's run; without one, the checks against it say \"not run\".",
        "supply_intro": (
            "**Supply ratio**: the capacities allocated today over the model's number, per health council, in the "
            "bands planners in Germany and Norway use ({bands}). Under 100 % a region may allocate new capacity; "
            "over 100 % it has more than the model's number. {counts}"),
        "assumptions_intro": (
            "Every choice the model makes that the executive order leaves open, where it comes from, the setting (a "
            "field of the configuration, `ModelConfig`) that changes it, its value in this run, and what it does to "
            "the results."),
        "caveats": (
            "Caveats: per-municipality numbers are indicative only; the weights describe historical use, which the "
            "life-expectancy factor corrects only in part; counts of 1-{k1} are hidden in this page, but differences "
            "between published totals can still narrow a hidden figure down. The result tables in the `run/` folder "
            "beside this page hold exact counts, small ones included, for work on the secure server: publish the "
            "HTML pages, not the run folder."),
        "provenance": (
            "What this report was made from: the run's settings, the input files with their SHA-256 hashes, the "
            "package versions and the code commit. The same inputs, settings and code give the same tables."),
        # captions
        "cap_summary": "Capacities per health council (binding) and allocated today",
        "cap_validation": "Data-contract rules with failures (warnings do not stop the model)",
        "cap_data": "Citizens and clinics per health council",
        "cap_calibration": "Calibration of the synthetic data (synthetic_manifest.json)",
        "cap_fit": "Fit statistics",
        "cap_coefficients": "Coefficients (DKK a year), without and with regional and tender clinics",
        "cap_price": "Weight by age band and sex (no add-ons, before the life-expectancy factor)",
        "cap_addons": "Add-ons: what each characteristic adds to the weight",
        "cap_capacity": "From weighted citizens to capacities, per health council",
        "cap_municipality": "Indicative capacities per municipality",
        "cap_clinic_summary": "Minimum patient number per capacity, by health council",
        "cap_heavy": "Heaviest patients",
        "cap_light": "Lightest patients",
        "cap_profiles": "Patient mix of the clinics",
        "cap_stability": "Stability from year to year",
        "cap_uncertainty": "How sure each health council's rounded number is (cluster bootstrap)",
        "cap_sensitivity": "Sensitivity analyses: each variant against the base model",
        "cap_prev_capacities": "Capacities per health council, previous and now",
        "cap_prev_clinics": "Clinic minimum patient numbers that moved",
        "cap_prev_moves": "The largest moves",
        "cap_prev_config": "Model settings that changed",
        "cap_parameters": "Parameters of this report",
        "cap_gate": "Publication gate: each check",
        "cap_supply": "Supply ratio per health council",
        "cap_inputs": "Input files",
        "cap_versions": "Package versions",
        "cap_config": "Model settings (ModelConfig)",
    },
    "da": {
        "title": "Årlig modelrapport {year}: lægekapacitet pr. sundhedsråd",
        "intro": (
            "Den nationale model for fordeling af lægekapaciteter (bekendtgørelse nr. 975 af 30. juni 2025) gør hver "
            "borgers forventede brug af almen praksis til en **sygdomsvægt**, lægger vægtene sammen pr. område og "
            "dividerer med {cpc} for at finde det antal **lægekapaciteter**, hvert sundhedsråd skal have. De samme "
            "vægte giver hver klinik dens **minimumspatienttal**.\n\n"
            "Rapporten viser resultaterne af kørslen på data for {year} til planlægningsåret {planning_year}, hvordan "
            "de er fremkommet, og hvilke antagelser de hviler på. Den er skrevet til læsere, ikke programmører: koden "
            "bag er udeladt. Ingen tabel viser et antal under {k} personer (sådanne antal vises som <{k}). "
            "Henvisninger som §4.6.4 er afsnit i ministeriets høringsnotat om bekendtgørelsen; "
            "[metodedokumentet](method.da.html) forklarer hver regel med kilde."),
        "contents": "Indhold",
        "appendices": ("Bilag (på engelsk): {links}. Metoden regel for regel: [metodedokumentet](method.da.html) "
                       "([English](method.html))."),
        "summary": (
            "Estimeret på data for **{year}** giver modellen **{capacities} lægekapaciteter** for **{planning_year}** "
            "fordelt på Danmarks {councils} sundhedsråd. I dag er {allocated} kapaciteter udmøntet (opgjort som "
            "bekendtgørelsen opgør dem, uden ø-læger med færre end {island} patienter).\n\n"
            "En region **må udmønte ny kapacitet**, hvor modellens tal er over det udmøntede: i år i "
            "**{where}**{headroom_total}.\n\n"
            "Det nationale mål er mindst **{goal} praktiserende læger i 2035** (§4.2.1). Modellens samlede {capacities} "
            "kapaciteter er {goal_pct} % af målet; én kapacitet svarer omtrent til én fuldtidslæge."),
        "no_council": "intet sundhedsråd",
        "headroom_total": " ({total} kapaciteter i alt)",
        "headroom_note": (
            "*Råderum* er modellens tal minus de kapaciteter, der er udmøntet i dag. Hvor det er over nul, må "
            "regionen – men skal ikke – udmønte op til så mange nye kapaciteter, og kun dér kan det midlertidige "
            "tillæg bruges (§4.5.3; [metode, trin 5](method.da.html))."),
        "uncertainty": (
            "**Hvor sikre er tallene?** En klynge-bootstrap ({draws} træk, klinikker trukket med tilbagelægning) "
            "genestimerer modellen på gentrukne data. {sure}{unsure} Intervallet dækker kun koefficienternes "
            "stikprøveusikkerhed; det dækker ikke ændringer i befolkningen, i kodningen eller i data fra år til år, "
            "som flytter tallene mere (afsnit 7)."),
        "uncertainty_sure": "I {n} af {councils} sundhedsråd var det afrundede tal det samme i alle træk. ",
        "uncertainty_unsure": "Det afrundede tal afveg fra denne kørsels i mindst ét træk i {which}.",
        "uncertainty_many": "{n} af {councils} sundhedsråd (tabellen viser hvor ofte)",
        "uncertainty_none": "Alle sundhedsråds afrundede tal var de samme i alle træk.",
        "no_uncertainty": ("**Hvor sikre er tallene?** Bootstrappen er ikke kørt for denne rapport (den kræver data "
                           "for mindst to år)."),
        "data_intro": (
            "Modellen bruger ét års registerdata pr. borger: alder, køn, herkomst, civilstand, tilknytning til "
            "arbejdsmarkedet, udvalgte kroniske sygdomme og hvad almen praksis fik udbetalt for borgeren "
            "(*bruttohonoraret*). Kun borgere i sygesikringsgruppe 1 tæller. Data er kontrolleret mod projektets "
            "datakontrakter, før modellen kørte."),
        "validation": "**Validering:** {summary}",
        "validation_none": "datakontrollen er ikke kørt for denne rapport.",
        "imputed_le": ("Danmarks Statistik offentliggør ingen middellevetid for {names}. Disse kommuner får deres "
                       "sundhedsråds tal (befolkningsvægtet)."),
        "calibration": (
            "Dette er projektets **syntetiske** data, ikke registerdata. De er kalibreret til offentlige tal: hver "
            "kommunes alderssammensætning, tilmelding og de officielle tal fra ministeriets udkast til modellen (sidste "
            "kolonne er denne kørsels resultat). Se [kalibreringsdokumentet](synthetic_data_calibration.html) (engelsk)."),
        "regression_intro": (
            "Sygdomsvægtene kommer fra en regression af hver borgers brug af almen praksis (bruttohonorar i kr.) på "
            "borgerens kendetegn ([metode, trin 2](method.da.html)). Hver koefficient er et kendetegns ekstra årlige "
            "forbrug sammenlignet med en mand på 25-34 år uden nogen af kendetegnene. Konfidensintervallerne (95 %) "
            "viser, hvor præcist hver er estimeret.\n\n"
            "Efter bekendtgørelsen estimeres modellen **uden** patienterne i regions- og udbudsklinikker, fordi de "
            "registrerer deres ydelser anderledes (§4.4.3). Deres patienter tæller stadig med, når kapaciteterne "
            "beregnes. For at vise, hvad valget betyder, estimeres modellen også **med** dem."),
        "difference": (
            "**Forskellen med almindelige ord.** Når patienterne i regions- og udbudsklinikker tages med, flytter "
            "koefficienterne sig højst {moves}. En positiv forskel betyder, at kendetegnet ser dyrere ud, når de "
            "patienter er med. Hvor de to estimaters konfidensintervaller overlapper, er forskellen inden for, hvad "
            "tilfældighed alene kan give."),
        "price_intro": (
            "**Vægten** for en kombination af kendetegn er dens forventede forbrug divideret med gennemsnitsborgerens, "
            "så gennemsnitsborgeren vejer 1 ([metode, trin 3](method.da.html)). Tabellen og varmekortet viser vægten "
            "efter alder og køn for en borger uden tillæg; den næste tabel viser, hvad hvert tillæg lægger til."),
        "le_intro": (
            "Til sidst ganges hver vægt med en **middellevetidsfaktor** for borgerens kommune: landets middellevetid "
            "divideret med kommunens (§4.4.2.4). Borgere i kommuner med lavere middellevetid vejer mere; korrektionen "
            "modvirker, at historisk forbrug viderefører eksisterende ulighed."),
        "capacities_intro": (
            "For hver kommune divideres de vægtede borgere (vægtene for kommunens borgere, skaleret til den forventede "
            "befolkning ved udgangen af {planning_year}) med {cpc}: det er **behovet** ([metode, trin 4-5]"
            "(method.da.html)). {floor_rule} Sundhedsrådets bindende tal er summen over dets kommuner, rundet "
            "{rounding_words}."),
        "floor_rule": ("Overgangsreglen sikrer mindst én kapacitet pr. {km2} km² i hver kommune (**arealgulvet**); det "
                       "største af de to tal er kommunens vejledende tal."),
        "no_floor_rule": "Denne kørsel har intet arealgulv (km² pr. kapacitet er ikke sat).",
        "rounding_up": "op (449,2 bliver til 450, §4.6.4)",
        "rounding_nearest": "til nærmeste hele tal (en variant; bekendtgørelsen runder op)",
        "floor_binds": ("Arealgulvet er bindende i **{n} af {m} kommuner**{which}. Pr. kommune er tallene kun "
                        "vejledende; det bindende tal er sundhedsrådets (§4.6.3)."),
        "islands": (
            "Ø-læger med færre end {island} tilmeldte patienter tælles ikke med i de udmøntede kapaciteter (§4.2.4), så "
            "deres kapacitet ikke bruger af sundhedsrådets tal. Fradraget følger regionernes indberetninger efter bilag "
            "2, gyldige fra indberetningsdatoen og et år frem (R§3); hvor ingen indberetning dækker en klinik, bruges "
            "klinikregistrets ø-lægemarkering med det tilmeldte antal. Tabellen angiver kilden til hvert fradrag."),
        "no_islands": " Ingen sådan klinik findes i årets data.",
        "clinics_intro": (
            "Hver kliniks minimumspatienttal er dens kapaciteter × {cpc} divideret med den gennemsnitlige vægt for dens "
            "tilmeldte patienter, rundet til nærmeste {step}, så små ændringer ikke flytter det (§4.3.1, §4.3.9; "
            "[metode, trin 6](method.da.html)){cap}. En klinik med tungere patienter får et lavere tal. Tallene "
            "nedenfor er pr. kapacitet, så klinikker af forskellig størrelse kan sammenlignes."),
        "cap": ", og højst {cap}",
        "extremes": ("Klinikkerne med de tungeste og de letteste patienter (kun klinikker med mindst {k} tilmeldte "
                     "patienter, så hvert gennemsnit bygger på mindst så mange personer):"),
        "profiles": ("Hvad gør patienter tunge: patientsammensætningen i den tiendedel af klinikkerne med de tungeste og "
                     "med de letteste patienter, lagt sammen over alle klinikker i hver tiendedel."),
        "no_profiles": "Klinikkernes patientsammensætning (clinic_profiles) er ikke en del af denne kørsel.",
        "stability_intro": (
            "Hvor meget flytter resultaterne sig? **Stabilitet**: modellen genestimeres på hvert år i data (honorarer "
            "fremskrevet til seneste års prisniveau), og tabellen viser, hvor meget kapacitet der ville flytte mellem "
            "sundhedsråd fra år til år, hvor mange råds afrundede tal der ændres, og hvor mange klinikkers "
            "minimumstal der flytter sig. En klynge-bootstrap viser, hvor sikkert hvert råds afrundede tal er. "
            "**Følsomhed**: hver indvending fra høringen køres som en variant af modellen ved siden af grundmodellen; "
            "en variant, der ikke kan ændre noget i disse data, siger hvorfor i sin note. Detaljerne står i bilagene "
            "[stabilitet](stability.html) og [følsomhed](sensitivity.html). Alle bruger denne kørsels indstillinger."),
        "no_stability": "**Stabilitet vises ikke:** den kræver data for mindst to år, og denne datamappe har ét.",
        "no_sensitivity": "**Følsomhedsanalyser vises ikke:** de kræver data for mindst to år (et år holdt ude).",
        "no_previous": "Der er ikke angivet en tidligere rapport, så der er intet at sammenligne med.",
        "previous": "Sammenlignet med den tidligere kørsel ({what}, data for {y0}):",
        "previous_computed": "sidste års estimation, beregnet til denne rapport på samme datamappe og indstillinger",
        "previous_given": "den tidligere rapport",
        "no_setting_changed": "Ingen modelindstilling er ændret.",
        "release_intro": (
            "Før et års vægte sendes ud, kontrollerer **frigivelsestjekket** den nye estimation: ingen negativ "
            "koefficient for et kendetegn, der kun kan øge forbruget, ingen usandsynlig celle, sygdomstrin der aldrig "
            "falder, en jævn aldersprofil, intet fortegnsskift i forhold til sidste år, store ændringer i et råds "
            "kapaciteter, og sidste års estimation genberegnet med dagens kode "
            "([metode](method.html#before-a-model-year-is-released), engelsk). Tærsklerne er indstillinger "
            "(`release_*`); tabellen er på engelsk."),
        "release_none": "Tjekket sammenligner med sidste års kørsel; uden den står der \"not run\" ved de tjek.",
        "supply_intro": (
            "**Dækningsgrad**: de kapaciteter, der er udmøntet i dag, over modellens tal pr. sundhedsråd, i de "
            "intervaller, planlæggere i Tyskland og Norge bruger ({bands}). Under 100 % må regionen udmønte ny "
            "kapacitet; over 100 % har den flere end modellens tal. {counts}"),
        "assumptions_intro": (
            "Hvert valg, modellen træffer, hvor bekendtgørelsen lader det stå åbent, hvor det kommer fra, den "
            "indstilling (et felt i konfigurationen, `ModelConfig`), der ændrer det, dens værdi i denne kørsel, og "
            "hvad den gør ved resultaterne (tabellen er på engelsk)."),
        "caveats": (
            "Forbehold: tallene pr. kommune er kun vejledende; vægtene beskriver historisk forbrug, som "
            "middellevetidsfaktoren kun delvis korrigerer; antal på 1-{k1} er skjult på siden, men forskelle mellem "
            "offentliggjorte totaler kan stadig indsnævre et skjult tal. Resultattabellerne i mappen `run/` ved siden "
            "af siden indeholder eksakte antal, også små, til arbejde på den sikre server: offentliggør HTML-siderne, "
            "ikke run-mappen."),
        "provenance": (
            "Hvad rapporten er lavet af: kørslens indstillinger, inputfilerne med deres SHA-256-hash, pakkeversioner og "
            "kodens commit. Samme input, indstillinger og kode giver de samme tabeller."),
        "cap_summary": "Kapaciteter pr. sundhedsråd (bindende) og udmøntet i dag",
        "cap_validation": "Datakontraktens regler med fejl (advarsler stopper ikke modellen)",
        "cap_data": "Borgere og klinikker pr. sundhedsråd",
        "cap_calibration": "Kalibrering af de syntetiske data (synthetic_manifest.json)",
        "cap_fit": "Modellens forklaringsgrad",
        "cap_coefficients": "Koefficienter (kr. om året), uden og med regions- og udbudsklinikker",
        "cap_price": "Vægt efter aldersgruppe og køn (uden tillæg, før middellevetidsfaktoren)",
        "cap_addons": "Tillæg: hvad hvert kendetegn lægger til vægten",
        "cap_capacity": "Fra vægtede borgere til kapaciteter, pr. sundhedsråd",
        "cap_municipality": "Vejledende kapaciteter pr. kommune",
        "cap_clinic_summary": "Minimumspatienttal pr. kapacitet, efter sundhedsråd",
        "cap_heavy": "Tungeste patienter",
        "cap_light": "Letteste patienter",
        "cap_profiles": "Klinikkernes patientsammensætning",
        "cap_stability": "Stabilitet fra år til år",
        "cap_uncertainty": "Hvor sikkert hvert sundhedsråds afrundede tal er (klynge-bootstrap)",
        "cap_sensitivity": "Følsomhedsanalyser: hver variant mod grundmodellen",
        "cap_prev_capacities": "Kapaciteter pr. sundhedsråd, før og nu",
        "cap_prev_clinics": "Minimumspatienttal, der har flyttet sig",
        "cap_prev_moves": "De største ændringer",
        "cap_prev_config": "Modelindstillinger, der er ændret",
        "cap_parameters": "Rapportens parametre",
        "cap_gate": "Frigivelsestjek: hvert tjek",
        "cap_supply": "Dækningsgrad pr. sundhedsråd",
        "cap_inputs": "Inputfiler",
        "cap_versions": "Pakkeversioner",
        "cap_config": "Modelindstillinger (ModelConfig)",
    },
}

#: Danish column labels of the report's tables (English label -> Danish).
DA_LABELS: dict[str, str] = {
    "Health council": "Sundhedsråd", "Municipality": "Kommune", "Municipalities": "Kommuner",
    "Capacities": "Kapaciteter", "Capacities (exact)": "Kapaciteter (eksakt)", "Capacities (model)": "Kapaciteter (model)",
    "Capacities allocated": "Udmøntede kapaciteter", "Allocated": "Udmøntet",
    "Allocated today (counted)": "Udmøntet i dag (opgjort)", "Headroom": "Råderum",
    "May allocate new capacity": "Må udmønte ny kapacitet", "Need": "Behov", "Need (exact)": "Behov (eksakt)",
    "Weighted citizens": "Vægtede borgere", "Mean weight": "Gns. vægt", "Area km²": "Areal km²",
    "Area floor": "Arealgulv", "Floor binds": "Gulvet binder", "Indicative capacities": "Vejledende kapaciteter",
    "Projected population": "Fremskrevet befolkning", "Citizens (all groups)": "Borgere (alle grupper)",
    "Citizens (group 1)": "Borgere (gruppe 1)", "Clinics": "Klinikker", "Open clinics": "Åbne klinikker",
    "Clinic": "Klinik", "Listed patients": "Tilmeldte patienter", "Listed patients (group 1)": "Tilmeldte (gruppe 1)",
    "Regional or tender clinics": "Regions- eller udbudsklinikker",
    "Patients in regional or tender clinics": "Patienter i regions- eller udbudsklinikker",
    "Island-doctor clinics": "Ø-lægeklinikker", "Island doctors left out": "Ø-læger udeladt",
    "Island clinics left out": "Ø-klinikker udeladt", "Their capacities": "Deres kapaciteter",
    "Their listed patients": "Deres tilmeldte patienter", "Source of the deduction": "Kilde til fradraget",
    "Municipalities where floor binds": "Kommuner hvor gulvet binder", "Region from 2027": "Region fra 2027",
    "Life expectancy used (imputed)": "Middellevetid brugt (imputeret)", "Factor": "Faktor",
    "Fit": "Estimation", "Persons": "Personer", "R²": "R²", "Adjusted R²": "Justeret R²",
    "Cells (combinations)": "Celler (kombinationer)", "Terms": "Led", "Standard errors": "Standardfejl",
    "Characteristic": "Kendetegn", "Term": "Led", "Estimate (without)": "Estimat (uden)",
    "Estimate (with)": "Estimat (med)", "95% CI (without)": "95 %-KI (uden)", "95% CI (with)": "95 %-KI (med)",
    "Difference": "Forskel", "Age band": "Aldersgruppe", "Female": "Kvinde", "Male": "Mand",
    "Extra use (DKK a year)": "Ekstra forbrug (kr. om året)", "Extra weight": "Ekstra vægt",
    "Lowest": "Lavest", "Lower quartile": "Nedre kvartil", "Median": "Median", "Upper quartile": "Øvre kvartil",
    "Highest": "Højest", "Minimum patient number": "Minimumspatienttal", "Practice form": "Praksisform",
    "Share of listed patients (%)": "Andel af tilmeldte patienter (%)",
    "Years": "År", "Capacity moved between health councils (%)": "Kapacitet flyttet mellem sundhedsråd (%)",
    "… due to coefficients (%)": "… pga. koefficienter (%)", "… due to population (%)": "… pga. befolkning (%)",
    "Health councils whose number changes": "Sundhedsråd hvis tal ændres",
    "Largest change in a health council": "Største ændring i et sundhedsråd",
    "Clinics moving ≥ 5 % (%)": "Klinikker der flytter ≥ 5 % (%)",
    "Clinics moving ≥ 50 patients (%)": "Klinikker der flytter ≥ 50 patienter (%)",
    "Rank correlation of clinic mean weights": "Rangkorrelation af klinikkernes gns. vægt",
    "Variant": "Variant", "Capacities (change)": "Kapaciteter (ændring)", "Headroom changes sign in": "Råderum skifter fortegn i",
    "R² out of sample": "R² uden for stikprøven", "CPM out of sample": "CPM uden for stikprøven",
    "Mean abs. error (DKK)": "Gns. absolut fejl (kr.)", "Note": "Note", "What": "Hvad", "Change": "Ændring",
    "Clinics compared": "Klinikker sammenlignet", "Setting": "Indstilling", "Item": "Punkt", "Value": "Værdi",
    "Parameter": "Parameter", "Input file": "Inputfil", "SHA-256": "SHA-256", "Package": "Pakke",
    "Version": "Version", "Choice": "Valg", "Source": "Kilde",
    "Setting (ModelConfig field = value)": "Indstilling (ModelConfig-felt = værdi)",
    "What it does to the results": "Hvad det gør ved resultaterne",
    "Rounded number as here (share of draws)": "Afrundet tal som her (andel af træk)",
    "Headroom could change sign": "Råderum kan skifte fortegn",
    "Supply ratio (%)": "Dækningsgrad (%)", "Band": "Interval",
    "Severity": "Alvor", "File": "Fil", "Column": "Kolonne", "Rule": "Regel", "Cases": "Tilfælde",
}
def _da_int(text: str) -> str:
    """'1,211' -> '1.211'."""
    return text.replace(",", ".")


_DA_GROUPS = {"All clinics": "Alle klinikker", "Heaviest tenth": "Tungeste tiendedel", "Lightest tenth": "Letteste tiendedel"}
#: Danish labels of columns whose English label carries numbers: (pattern, replacement).
DA_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"^Capacities, (now|previous) \((\d{4})\)$", lambda m: f"Kapaciteter, {'nu' if m[1] == 'now' else 'før'} ({m[2]})"),
    (r"^Headroom, (now|previous) \((\d{4})\)$", lambda m: f"Råderum, {'nu' if m[1] == 'now' else 'før'} ({m[2]})"),
    (r"^Minimum, (now|previous) \((\d{4})\)$", lambda m: f"Minimum, {'nu' if m[1] == 'now' else 'før'} ({m[2]})"),
    (r"^Capacities, (\d+)% interval$", lambda m: f"Kapaciteter, {m[1]} %-interval"),
    (r"^(Now|Previous) \((\d{4})\)$", lambda m: f"{'Nu' if m[1] == 'Now' else 'Før'} ({m[2]})"),
    (r"^(All clinics|Heaviest tenth|Lightest tenth) \(%; (.*) clinics, (.*) patients\)$",
     lambda m: f"{_DA_GROUPS[m[1]]} (%; {_da_int(m[2])} klinikker, {_da_int(m[3])} patienter)"),
)


def translate_label(label: Any, lang: str) -> Any:
    """A table's column label in ``lang`` (English labels are the tables' own)."""
    if lang != "da" or not isinstance(label, str):
        return label
    found = _lookup(label, DA_LABELS, DA_PATTERNS)
    return label if found is None else found


def _lookup(text: str, exact: Mapping[str, str], patterns: Sequence[tuple[str, Any]]) -> str | None:
    """``text`` translated: its exact entry, else the first matching pattern's replacement; None if neither."""
    if text in exact:
        return exact[text]
    for pattern, repl in patterns:
        m = re.match(pattern, text)
        if m:
            return repl(m)
    return None


class ReportText:
    """The report's words in one language, with the run's numbers.

    In: ``lang`` ("en" or "da") and the run's :class:`ModelConfig`. ``text(key, **values)`` returns the
    paragraph ``key`` of :data:`TEXT` with the run's settings and ``values`` filled in (numbers formatted
    for the language); ``heading``, ``contents`` and ``table`` give the section headings with anchors,
    the table of contents and a table with translated labels.
    """

    def __init__(self, lang: str, config: ModelConfig):
        if lang not in TEXT:
            raise ValueError(f"language must be one of {sorted(TEXT)}, not {lang!r}")
        self.lang, self.config = lang, config
        anchors = METHOD_ANCHORS["en"]
        cap = config.clinic_cap
        self.values: dict[str, Any] = {
            "year": config.year, "planning_year": config.planning_year,
            "cpc": self.n(config.citizens_per_capacity), "step": self.n(config.clinic_rounding_step),
            "island": self.n(config.island_min_patients), "k": config.min_cell_size, "k1": config.min_cell_size - 1,
            "km2": self.n(config.km2_per_capacity, 0 if config.km2_per_capacity is None
                          or float(config.km2_per_capacity).is_integer() else 1) if config.km2_per_capacity else "",
            "goal": self.n(config.national_goal_gps),
            "rounding_words": TEXT[lang]["rounding_up" if config.rounding == "up" else "rounding_nearest"],
            **anchors,
        }
        self.values["floor_rule"] = (TEXT[lang]["floor_rule"].format(**self.values) if config.km2_per_capacity
                                     else TEXT[lang]["no_floor_rule"])
        self.values["cap"] = TEXT[lang]["cap"].format(cap=self.n(cap)) if cap else ""

    def n(self, v: float | int | None, digits: int = 0) -> str:
        """A number in the language's format (``1,600`` / ``1.600``; ``0.88`` / ``0,88``)."""
        if v is None:
            return ""
        return num(v, digits, self.lang)

    def signed(self, v: float, digits: int = 0) -> str:
        """A number with its sign (``+60``, ``-294``)."""
        return ("+" if v > 0 else "") + self.n(v, digits)

    def __call__(self, key: str, **values: Any) -> str:
        return TEXT[self.lang][key].format(**{**self.values, **values})

    def section(self, anchor: str) -> str:
        """The heading of a section, with its anchor (``<h2 id="capacities">5 Capacities ...</h2>``)."""
        for a, number, en, da in SECTIONS:
            if a == anchor:
                return f'<h2 id="{a}">{number} {da if self.lang == "da" else en}</h2>'
        raise KeyError(anchor)

    def contents(self, pages: Sequence[tuple[str, str]] = ()) -> str:
        """The table of contents (links to the sections) and the links to the appendices."""
        items = "\n".join(f"{number}. [{da if self.lang == 'da' else en}](#{a})" for a, number, en, da in SECTIONS)
        links = ", ".join(f"[{label}]({href})" for label, href in pages)
        return f"**{self('contents')}**\n\n{items}\n\n" + (self("appendices", links=links) if links else "")

    def table(self, df: pd.DataFrame, caption_key: str | None = None, **kw: Any) -> str:
        """:func:`model.report.display.table_html` with the caption of ``caption_key`` and translated labels."""
        caption = self(caption_key) if caption_key else kw.pop("caption", None)
        if self.lang == "da":  # the total row and yes/no-like words in cells
            df = df.replace({"Denmark": "Danmark", "All": "Alle"})
        return table_html(df, caption, lang=self.lang, labels=lambda c: translate_label(c, self.lang), **kw)

    def figure(self, fig: Any) -> Any:
        """``fig`` in the report's language (:func:`translate_figure`)."""
        return translate_figure(fig, self.lang)

    def show(self, df: pd.DataFrame, caption_key: str | None = None, **kw: Any) -> None:
        """Display :meth:`table` in a notebook."""
        from IPython.display import HTML, display

        display(HTML(self.table(df, caption_key, **kw)))

    def words(self, items: Sequence[str]) -> str:
        """A list in prose: 'a, b and c' / 'a, b og c'."""
        items = list(items)
        if len(items) <= 1:
            return "".join(items)
        return ", ".join(items[:-1]) + (" og " if self.lang == "da" else " and ") + items[-1]


def headline_values(rt: ReportText, s: Mapping[str, Any]) -> dict[str, Any]:
    """The summary paragraph's numbers from :func:`model.report.annual_tables.national_summary`."""
    where = rt.words(s["headroom_councils"]) if s["headroom_councils"] else rt("no_council")
    total = rt("headroom_total", total=rt.n(s["headroom_total"], 0 if float(s["headroom_total"]).is_integer() else 1)) \
        if s["headroom_councils"] else ""
    return {"capacities": rt.n(s["capacities"]), "planning_year": s["planning_year"], "year": s["year"],
            "councils": s["health_councils"], "allocated": rt.n(s["allocated"], 0 if float(s["allocated"]).is_integer() else 1),
            "where": where, "headroom_total": total, "goal_pct": f"{100 * s['capacities'] / s['goal']:.0f}"}


#: The annual report's figure texts in Danish (exact texts; numbers in texts by :data:`DA_FIGURE_PATTERNS`).
DA_FIGURE_TEXT: dict[str, str] = {
    "Capacities (model)": "Kapaciteter (model)", "Allocated today (counted)": "Udmøntet i dag (opgjort)",
    "GP capacities": "Lægekapaciteter",
    "Capacities per health council: model vs allocated today (+ headroom)":
        "Kapaciteter pr. sundhedsråd: model mod udmøntet i dag (+ råderum)",
    "Weight by age and sex (no add-ons)": "Vægt efter alder og køn (uden tillæg)",
    "female": "kvinde", "male": "mand", "Female": "Kvinde", "Male": "Mand",
    "Life-expectancy factor per municipality (above 1: weighs more)":
        "Middellevetidsfaktor pr. kommune (over 1: vejer mere)",
    "life-expectancy factor": "middellevetidsfaktor", "council's figure (imputed)": "rådets tal (imputeret)",
    "Headroom per health council (capacities)": "Råderum pr. sundhedsråd (kapaciteter)",
    "model's number - allocated": "modellens tal - udmøntet", "may allocate new capacity": "må udmønte ny kapacitet",
    "Mean disease weight per municipality": "Gennemsnitlig sygdomsvægt pr. kommune",
    "mean weight (national mean 1)": "gns. vægt (landsgennemsnit 1)", "area floor binds": "arealgulvet binder",
    "No value": "Ingen værdi", "Clinic minimum patient numbers per capacity, by health council":
        "Klinikkernes minimumspatienttal pr. kapacitet, efter sundhedsråd",
    "Capacities per health council, refitted each year": "Kapaciteter pr. sundhedsråd, genestimeret hvert år",
    "Sensitivity variants: capacities per health council (• headroom changes sign)":
        "Følsomhedsvarianter: kapaciteter pr. sundhedsråd (• råderum skifter fortegn)",
    "Change in capacities against the base (%)": "Ændring i kapaciteter mod grundmodellen (%)",
}
DA_FIGURE_PATTERNS: tuple[tuple[str, Any], ...] = (
    (r"^The (\d+) lowest and highest factors$", lambda m: f"De {m[1]} laveste og højeste faktorer"),
    (r"^minimum patient number per capacity \(dashed: ([\d,.]+)\)$",
     lambda m: f"minimumspatienttal pr. kapacitet (stiplet: {_da_int(m[1])})"),
    (r"^Capacities \(exact\) relative to (\d{4}) \(%\)$", lambda m: f"Kapaciteter (eksakt) i forhold til {m[1]} (%)"),
    (r"^(\d{4}): (\d+) % bootstrap interval$", lambda m: f"{m[1]}: {m[2]} %-bootstrapinterval"),
    (r"^  \+([\d,]+)$", lambda m: f"  +{_da_int(m[1])}"),
)


def translate_figure(fig: Any, lang: str) -> Any:
    """``fig`` with its titles, axis labels, legend and colour-bar texts in ``lang`` (Danish by
    :data:`DA_FIGURE_TEXT`; tick labels that are numbers get a decimal comma). Returns the figure."""
    if lang != "da":
        return fig
    from matplotlib.text import Text

    def da(text: str) -> str:
        found = _lookup(text, DA_FIGURE_TEXT, DA_FIGURE_PATTERNS)
        if found is not None:
            return found
        if re.fullmatch(r"−?-?\d+\.\d+", text):  # a decimal number on a tick or in a cell
            return text.replace(".", ",")
        return text

    fig.canvas.draw()  # tick labels exist only once drawn
    for ax in fig.axes:  # tick labels come from formatters: set them as fixed, translated texts
        for axis, get_lim, set_lim in ((ax.xaxis, ax.get_xlim, ax.set_xlim), (ax.yaxis, ax.get_ylim, ax.set_ylim)):
            labels = [lab.get_text() for lab in axis.get_ticklabels()]
            new = [da(t) for t in labels]
            if new != labels:
                lim = get_lim()
                axis.set_ticks(axis.get_ticklocs(), new)
                set_lim(lim)
    for artist in fig.findobj(Text):
        t = artist.get_text()
        if t:
            new_t = da(t)
            if new_t != t:
                artist.set_text(new_t)
    return fig
