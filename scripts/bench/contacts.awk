# Generates the benchmark's contact CSV (header + n lines): awk -v n=1000000 -f contacts.awk
BEGIN {
  nf = split("Anna Anne Jürgen Peter Maria Thomas Sabine Michael Julia Andreas Stefanie Klaus Monika Frank Petra Uwe Karin Jörg Birgit Lukas Lena Jonas Mia Ben Emma Paul Hannah Felix Sophie Leon Zoë Ömer Ayşe Łukasz Søren José François Chloé Björn Åsa Noah Liam Olivia Ava Ethan Mason Isabella Lucas Amelia Ella", F, " ")
  nl = split("Schmidt Schmitt Müller Meyer Meier Schneider Fischer Weber Wagner Becker Schulz Hoffmann Schäfer Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange Schmitz Krause Werner Lehmann Köhler Maier Herrmann König Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung Hahn Vogel Friedrich Keller Günther Frank Berger Winkler Roth Beck Lorenz Baumann Franke Albrecht Schuster Simon Ludwig Böhm Winter Kraus Martin Schumacher Krämer Vogt Stein Jäger Otto Sommer Groß Seidel Heinrich Brandt Haas Schreiber Graf Schulte Dietrich Ziegler Kuhn Kühn Pohl Engel Horn Busch Bergmann Thomas Voigt Sauer Arnold Wolff Pfeiffer Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson Anderson Taylor Moore Jackson Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Dubois Lefèvre Nowak Kowalski Wiśniewski Jensen Nielsen Hansen Andersson Johansson Karlsson Nilsson Rossi Russo Ferrari Esposito Bianchi Romano Colombo Silva Santos Oliveira", L, " ")
  srand(42)
  print "organization,first_name,last_name,email,phone"
  for (i = 1; i <= n; i++) {
    f = F[1 + int(rand() * nf)]; l = L[1 + int(rand() * nl)]
    org = "Org " (1 + int(rand() * 2000)) " GmbH"
    printf "%s,%s,%s,u%d.%s@org%d.example,+49 30 %07d\n", org, f, l, i, tolower(l), 1 + (i % 2000), i
  }
}
