"""French texts of the admin's sign-up and SMS provider settings and of the composer's variable
picker (with `admin_texts_fr`, whose format they follow)."""

FR_SETTINGS = {
    "Sign-up": "Inscription",
    "Sign-up page": "Page d'inscription",
    "Visitors give their number and confirm it by SMS (double opt-in), with the legal consent text in their language.":
        "Les visiteurs donnent leur numéro et le confirment par SMS (double opt-in), avec le texte légal de consentement dans leur langue.",
    "QR code (PNG)": "QR code (PNG)",
    "QR code (SVG)": "QR code (SVG)",
    "Form to paste into your theme": "Formulaire à coller dans votre thème",
    "Keywords": "Mots-clés",
    "A customer who texts one of these words to your number is asked to confirm with YES (OUI).":
        "Un client qui envoie l'un de ces mots à votre numéro est invité à confirmer par OUI.",
    "Keyword": "Mot-clé",
    "Link": "Lien",
    "QR code": "QR code",
    "the shop has no SMS number yet": "la boutique n'a pas encore de numéro SMS",
    "SMS provider": "Fournisseur SMS",
    "Every SMS of the shop leaves through this provider and sender.":
        "Tous les SMS de la boutique partent par ce fournisseur et cet expéditeur.",
    "Sender type": "Type d'expéditeur",
    "Sender": "Expéditeur",
    "A number in E.164 (+33…), a short code, up to 11 letters, or a Messaging Service SID (MG…).":
        "Un numéro au format E.164 (+33…), un numéro court, jusqu'à 11 lettres, ou un SID de Messaging Service (MG…).",
    "Messages per second": "Messages par seconde",
    "Empty: the provider's rate for this kind of sender.": "Vide : le débit du fournisseur pour ce type d'expéditeur.",
    "Failover": "Secours",
    "While the first provider fails, new SMS leave through this one; none is ever sent twice.":
        "Tant que le premier fournisseur échoue, les nouveaux SMS partent par celui-ci ; aucun n'est envoyé deux fois.",
    "None": "Aucun",
    "Phone number": "Numéro de téléphone",
    "Short code": "Numéro court",
    "Alphanumeric sender": "Expéditeur alphanumérique",
    "Messaging Service": "Messaging Service",
    "Insert a variable": "Insérer une variable",
}
