"""The Spanish (es-US) catalogue: every key of `ivr.prompts.PROMPTS`, with the same fields."""

from __future__ import annotations

PROMPTS_ES: dict[str, str] = {
    # Issue #15 item 3: after hours, a message or a callback ({last4}: digits_spoken; {number_spoken}: a case).
    "afterhours_options": (
        "Para dejar un mensaje para un asesor, oprima 1. "
        "Para que un asesor le devuelva la llamada cuando abramos, oprima 2."
    ),
    "afterhours_options_no_callback": "Para dejar un mensaje para un asesor, oprima 1.",
    "afterhours_repeat": "Para escuchar estas opciones de nuevo, oprima asterisco.",
    "afterhours_case": (
        "Si se trata de un caso existente, marque el número de caso seguido de la tecla de numeral. "
        "Para un problema nuevo, oprima numeral."
    ),
    "afterhours_case_found": "Caso {number_spoken}.",
    "afterhours_new_issue": "Lo registraremos como un problema nuevo.",
    "afterhours_record": "Por favor, deje su mensaje después del tono y luego oprima numeral.",
    "afterhours_no_message": "No recibimos ningún mensaje.",
    "afterhours_message_saved": (
        "Gracias. Su mensaje ha sido guardado, y un asesor le devolverá la llamada cuando abramos, "
        "en el orden en que llamó. Adiós."
    ),
    "afterhours_callback_saved": (
        "Gracias. Un asesor le devolverá la llamada al número que termina en {last4} cuando abramos, "
        "en el orden en que llamó. Adiós."
    ),
    # Issue #15 item 2: a new issue's product area and urgency (ivr/flow/area.py), and the whisper
    # of such a call (always said in English to the advisor; here for the catalogue's completeness).
    "area_menu": (
        "¿Sobre qué área del producto es su consulta? "
        "Para libro de calificaciones, oprima 1. Para horarios, oprima 2. Para asistencia, oprima 3. "
        "Para inscripción en línea, oprima 4. Para punto de venta, oprima 5. Para informes estatales, oprima 6. "
        "Si no está seguro, oprima 0. También puede decir el nombre del área. "
        "Para escuchar estas opciones de nuevo, oprima asterisco."
    ),
    "urgency_menu": (
        "Si su sitio no funciona o nadie puede trabajar, oprima 1. "
        "Si una tarea urgente está detenida, como un informe estatal o las boletas de calificaciones que vencen hoy, "
        "oprima 2. "
        "De lo contrario, oprima 3."
    ),
    "urgency_outage_offer": (
        "Si lo que no funciona es su sitio hospedado, oprima 8 ahora para comunicarse con el ingeniero de guardia, "
        "a cualquier hora. De lo contrario, permanezca en la línea para hablar con un asesor."
    ),
    "whisper_new_issue": "Llamada de soporte de {district}, {area}, prioridad {priority}. Oprima 1 para aceptar.",
}
