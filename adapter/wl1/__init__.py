"""The WL 1.0 face: the legacy operations hosted with spyne, fulfilled through WL 2.0."""

OPERATIONS = ("GeefBedrijfsgegevens", "VerifieerAccreditatie", "Zoeken", "GeefDetails", "GeefMutaties",
              "DoeErkenningsvoordracht")
