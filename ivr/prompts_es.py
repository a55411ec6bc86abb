"""The Spanish (es-US) catalogue: every key of `ivr.prompts.PROMPTS`, in the same order and with the
same fields, in courteous IVR Spanish ("usted", "oprima N"); and the Spanish words the flow puts
into those fields (case statuses, holiday names).

"Campus Support" and "Support Case Portal" are brand names and stay in English. The whisper
prompts are here for completeness only: our advisors hear the whisper in English.
"""

from __future__ import annotations

PROMPTS_ES: dict[str, str] = {
    # Greeting and verification (said to anyone who dials).
    "greeting": "Gracias por llamar a Campus Support.",
    "authorized_only": "Esta línea es para contactos autorizados.",
    "ask_pin": "Usando el teclado, por favor ingrese su PIN, seguido de la tecla de numeral.",
    "ask_contact_id": "Por favor, ingrese su número de contacto seguido de la tecla de numeral, o dígalo.",
    "no_match": "Lo que ingresó no coincide con nuestros registros.",
    "no_input": "Lo sentimos, no recibimos ninguna respuesta.",
    "locked_out": (
        "Esta línea es solo para contactos autorizados, y el acceso se ha suspendido después de varios "
        "intentos. Por favor, comuníquese con el equipo técnico de su distrito para obtener ayuda. Adiós."
    ),
    "locked_out_retry": (
        "Esta línea es solo para contactos autorizados, y el acceso se ha suspendido después de varios "
        "intentos. Puede intentarlo de nuevo en {minutes}. Por favor, comuníquese con el equipo técnico "
        "de su distrito para obtener ayuda. Adiós."
    ),
    "verified": "Gracias, {name}.",
    # Menus.
    "menu_open": (
        "Ingrese su número de caso seguido de la tecla de numeral, o dígalo. "
        "Para reportar una interrupción de su sitio alojado, oprima 8 o diga interrupción. "
        "Para hablar con el próximo asesor disponible, oprima 0 o diga asesor. "
        "Para escuchar estas opciones de nuevo, oprima asterisco."
    ),
    "menu_open_not_hosted": (
        "Ingrese su número de caso seguido de la tecla de numeral, o dígalo. "
        "Para hablar con el próximo asesor disponible, oprima 0 o diga asesor. "
        "Para escuchar estas opciones de nuevo, oprima asterisco."
    ),
    "not_recognized": "Lo sentimos, esa no es una de las opciones.",
    "didnt_catch": "Disculpe, no le entendí.",
    "heard_number": (
        "Escuché {number_spoken}. Si es correcto, oprima 1 o diga sí. Para ingresarlo de nuevo, oprima 2 o diga no."
    ),
    "goodbye": "Gracias por llamar a Campus Support. Adiós.",
    "submit_online": "Puede enviar un caso en línea en cualquier momento a través del Support Case Portal.",
    "in_writing": (
        "Para cambios de datos o solicitudes de configuración, envíe la solicitud por escrito "
        "como una nota en su caso, para que podamos confirmar que es un contacto autorizado."
    ),
    # Hours gating. {hours}, {zone}, {when}: from the calendar (ivr/hours_spoken.py), e.g. "de
    # lunes a viernes, de 6 a. m. a 6 p. m.", "hora del Centro", "mañana a las 6 a. m., hora del Centro".
    "closed_holiday": "El soporte en vivo está cerrado hoy por {holiday}.",
    "closed_hours": "El soporte en vivo está disponible {hours}, {zone}, y en este momento está cerrado.",
    "closed_now": "El soporte en vivo está cerrado en este momento.",
    "next_opening": "Volvemos a abrir {when}.",
    "closed_outage_offer": (
        "Si su sitio alojado tiene una interrupción del servicio, "
        "oprima 8 para comunicarse con el ingeniero de guardia."
    ),
    # Cases.
    "case_not_found": "No encontramos ese número de caso para su distrito.",
    "not_a_case_number": "Lo sentimos, ese no es un número de caso.",
    "case_readback": "Caso {number_spoken}. Estado: {status}.",
    "case_release": "Hay una corrección disponible en la versión {release}.",
    "case_closed_reopen": (
        "Este caso se cerró el {closed_on}. "
        "Para reabrirlo y hablar con un asesor, oprima 1 o diga sí. "
        "Para volver al menú principal, oprima asterisco."
    ),
    "case_reopened": "Su caso se ha reabierto.",
    "case_too_old": (
        "Este caso se cerró hace más de 60 días y ya no se puede reabrir. "
        "Por favor, envíe un caso nuevo a través del Support Case Portal."
    ),
    # Routing.
    "connecting_owner": "Transfiriendo su llamada al asesor a cargo de su caso.",
    "connecting_advisor": "Transfiriendo su llamada al próximo asesor disponible.",
    "trying_another_advisor": "Intentando con otro asesor.",
    "owner_unavailable": "El asesor a cargo de su caso no está disponible en este momento.",
    "advisor_unavailable": "Ese asesor no está disponible.",
    "queue_position": (
        "Todos nuestros asesores están atendiendo otras llamadas. Usted es el número {position} en la fila. "
        "El tiempo de espera aproximado es de {wait}."
    ),
    "queue_position_no_estimate": (
        "Todos nuestros asesores están atendiendo otras llamadas. Usted es el número {position} en la fila."
    ),
    "queue_still_waiting": "Gracias por esperar. Usted es el número {position} en la fila.",
    "queue_still_waiting_wait": (
        "Gracias por esperar. Usted es el número {position} en la fila. El tiempo de espera aproximado es de {wait}."
    ),
    "queue_options": (
        "Para dejar un mensaje o pedir que le devolvamos la llamada en lugar de esperar, oprima 1 en cualquier momento."
    ),
    "queue_choices": (
        "Para dejar un mensaje de voz para un asesor, oprima 1 o diga mensaje. "
        "Para que un asesor le devuelva la llamada al número desde el que llama, oprima 2 o diga devolver la llamada. "
        "Para mantener su lugar en la fila, oprima asterisco o diga esperar."
    ),
    "queue_choices_no_callback": (
        "Para dejar un mensaje de voz para un asesor, oprima 1 o diga mensaje. "
        "Para mantener su lugar en la fila, oprima asterisco o diga esperar."
    ),
    "queue_record": (
        "Por favor, deje su mensaje después del tono, con su número de caso si lo tiene, "
        "y luego oprima la tecla de numeral."
    ),
    "queue_message_saved": (
        "Gracias. Su mensaje se ha guardado, y un asesor le devolverá la llamada en el orden en que llamó. Adiós."
    ),
    "queue_no_message": "No recibimos ningún mensaje. Usted sigue en la fila.",
    "queue_callback_saved": (
        "Gracias. Un asesor le devolverá la llamada al número que termina en {last4}, en el orden en que llamó. Adiós."
    ),
    "queue_back": "Usted sigue en la fila.",
    "degraded_busy": "No pudimos comunicarnos con un asesor en este momento.",
    "degraded_callback_saved": (
        "Gracias. Un asesor le devolverá la llamada al número que tenemos registrado, en el orden en que llamó. Adiós."
    ),
    "call_ended": "Gracias por llamar. Adiós.",
    # Whisper to the advisor or engineer who answers (said in English in the flow).
    "whisper_case": "Caso {number_spoken} de {district}. Oprima 1 para aceptar.",
    "whisper_general": "Llamada de soporte de {district}. Oprima 1 para aceptar.",
    "whisper_outage": "Llamada por interrupción de {district}, caso {number_spoken}. Oprima 1 para aceptar.",
    "whisper_declined": "La llamada no fue aceptada. Adiós.",
    # Option 8.
    "outage_not_hosted": (
        "El soporte para interrupciones las 24 horas está disponible solo para clientes con sitios alojados."
    ),
    "outage_opened": "Hemos abierto el caso de interrupción {number_spoken} para su distrito.",
    "outage_joined": "La interrupción de su distrito ya se está atendiendo en el caso {number_spoken}.",
    "outage_connecting": "Transfiriendo su llamada al ingeniero de guardia.",
    "outage_backup": "Intentando con el ingeniero de respaldo.",
    "outage_record": (
        "En este momento no pudimos comunicarnos con ningún ingeniero. Por favor, describa la interrupción "
        "después del tono y luego oprima la tecla de numeral. Un ingeniero le devolverá la llamada."
    ),
    "outage_recorded": ("Gracias. Su mensaje está en el caso de interrupción, y un ingeniero le devolverá la llamada."),
    "outage_no_recording": (
        "No recibimos ningún mensaje. El caso de interrupción está abierto y un ingeniero le devolverá la llamada."
    ),
    # Follow-up calls (3 x 10): nothing about the case before the PIN.
    "followup_greeting": "Hola, le llamamos de Campus Support acerca de uno de sus casos de soporte.",
    "followup_voicemail": (
        "Hola, le llamamos de Campus Support acerca de uno de sus casos de soporte. Por favor, responda a "
        "nuestro mensaje de texto o llame a la línea de soporte. Adiós."
    ),
    "followup_stale": "Esta llamada es sobre un caso que ya no necesita su confirmación. Gracias. Adiós.",
    "followup_menu": (
        "El caso {number_spoken} de {district} se resolvió y está pendiente de su confirmación. "
        "Si está resuelto, oprima 1 o diga resuelto. "
        "Para hablar con un asesor ahora, oprima 2 o diga asesor. "
        "Para mantener el caso abierto, oprima 3 o diga mantener abierto."
    ),
    "followup_closed": "Gracias. El caso {number_spoken} ya está cerrado. Adiós.",
    "followup_kept_open": "El caso {number_spoken} sigue abierto, y su asesor se comunicará con usted. Adiós.",
    "followup_advisor_later": "Su caso sigue abierto, y un asesor le devolverá la llamada. Adiós.",
    "followup_no_choice": "No recibimos ninguna opción. Volveremos a intentarlo más tarde. Adiós.",
    # Faults.
    "fault_apology": "Lo sentimos, estamos teniendo problemas con nuestro sistema telefónico.",
    "fault_transfer": "Por favor, espere mientras transferimos su llamada.",
    "fault_outage_offer": (
        "Si su sitio alojado no está funcionando, oprima 8 para comunicarse con el ingeniero de guardia."
    ),
    "fault_call_back": "Por favor, vuelva a intentarlo en unos minutos, o envíe un caso en línea. Adiós.",
    # Issue #15 item 7 (Spanish): the language offer at the first prompt of a call. Each is said
    # in its own language whatever the call's: "offer_spanish" in Spanish, "offer_english" in English.
    "offer_spanish": "Para español, oprima nueve.",
    "offer_english": "Para inglés, oprima nueve.",
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

# What `CaseStatus.spoken` says, in Spanish (by the status's value).
CASE_STATUS_ES: dict[str, str] = {
    "new": "nuevo",
    "in_progress": "en curso",
    "pending_verification": "pendiente de verificación",
    "available_in_release": "disponible en una versión",
    "closed": "cerrado",
}

# The support policy's holidays (`casestore.types.HOLIDAY_RULES` names), in Spanish, for "cerrado
# hoy por ...". An admin's one-off closure keeps the name the admin wrote.
HOLIDAYS_ES: dict[str, str] = {
    "New Year's Day": "el Día de Año Nuevo",
    "Memorial Day": "el Día de los Caídos",
    "Juneteenth": "Juneteenth, el Día de la Emancipación",
    "Independence Day": "el Día de la Independencia",
    "Labor Day": "el Día del Trabajo",
    "Thanksgiving": "el Día de Acción de Gracias",
    "the day after Thanksgiving": "el día después de Acción de Gracias",
    "Christmas Eve": "Nochebuena",
    "Christmas Day": "el Día de Navidad",
}
